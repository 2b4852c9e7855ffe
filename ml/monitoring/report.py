"""The monitoring record in the warehouse, the retraining requests, and the published report.

Drift results accumulate in ``monitoring.feature_drift`` (one row per scoring date, model
version and feature; re-measuring a date replaces its rows). A retraining request is raised
once per streak: when the latest scoring date crosses a threshold (a drift alert, or realized
performance below the version's holdout by more than ``PERFORMANCE_TOLERANCE``) and no request
was raised since the streak began; it stays open until a new version is trained (the gate
still decides whether that version serves). ``fti monitor``, ``fti status``, the sensors and
the dashboard read the report published as JSON, never the warehouse a run may hold.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from datetime import UTC, datetime

import duckdb
import pandas as pd

from ml.common import atomic_files
from ml.common.settings import Paths
from ml.common.warehouse import table_exists
from ml.monitoring import drift

REQUESTS_TABLE = "monitoring.retraining_requests"
# Each evaluated scoring date and why it asked for retraining (NULL: it did not).
CONDITIONS_TABLE = "monitoring.retraining_conditions"
REALIZED_TABLE = "monitoring.realized_performance"
ESTIMATED_TABLE = "monitoring.estimated_performance"
REPORT_FILE = "monitoring.json"
# Realized ROC AUC of the active population this far below the version's holdout ROC AUC
# asks for retraining.
PERFORMANCE_TOLERANCE = 0.05
# Drift that asks for retraining: an alert on the scores, or on this many input features.
FEATURE_ALERTS_FOR_RETRAINING = 2


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def record_drift(
    con: duckdb.DuckDBPyConnection, measured: pd.DataFrame, as_of_date, model_version: str
) -> int:
    frame = measured.assign(
        as_of_date=pd.Timestamp(as_of_date).date(),
        model_version=str(model_version),
        measured_at=_now(),
    )[
        [
            "as_of_date",
            "model_version",
            "feature",
            "psi",
            "js",
            "ks",
            "null_rate",
            "null_rate_change",
            "status",
            "measured_at",
        ]
    ]
    con.execute("create schema if not exists monitoring")
    con.execute(
        f"""
        create table if not exists {drift.DRIFT_TABLE} (
            as_of_date date, model_version varchar, feature varchar, psi double, js double,
            ks double, null_rate double, null_rate_change double, status varchar,
            measured_at timestamp
        )
        """
    )
    con.register("_drift", frame)
    try:
        con.execute(
            f"delete from {drift.DRIFT_TABLE} where as_of_date = ? and model_version = ?",
            [frame["as_of_date"].iloc[0] if len(frame) else None, str(model_version)],
        )
        con.execute(f"insert into {drift.DRIFT_TABLE} by name select * from _drift")
    finally:
        con.unregister("_drift")
    return len(frame)


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.execute("create schema if not exists monitoring")
    con.register("_frame", frame)
    try:
        con.execute(f"create or replace table {table} as select * from _frame")
    finally:
        con.unregister("_frame")


def _ensure_requests(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists monitoring")
    con.execute(f"create table if not exists {CONDITIONS_TABLE} (as_of_date date, reason varchar)")
    con.execute(
        f"""
        create table if not exists {REQUESTS_TABLE} (
            raised_at timestamp, as_of_date date, streak_start date, model_version varchar,
            reason varchar, answered_at timestamp, answered_by_version varchar
        )
        """
    )


def drift_trigger(rows: pd.DataFrame) -> str | None:
    """Why a scoring date's drift asks for retraining, or None."""
    alerts = rows[rows["status"] == "alert"]
    if alerts.empty:
        return None
    scores = alerts[alerts["feature"] == drift.PREDICTION]
    features = alerts[alerts["feature"] != drift.PREDICTION]
    if scores.empty and len(features) < FEATURE_ALERTS_FOR_RETRAINING:
        return None
    worst = alerts.sort_values("psi", ascending=False).head(3)
    named = ", ".join(
        f"{f} (PSI {p:.2f})" for f, p in zip(worst["feature"], worst["psi"], strict=True)
    )
    return f"drift alert on {len(alerts)} of {len(rows)} inputs and scores: {named}"


def performance_trigger(row: pd.Series, holdout_roc_auc: float | None) -> str | None:
    """Why a realized entry asks for retraining, or None."""
    realized = row.get("active_roc_auc")
    if holdout_roc_auc is None or realized is None or pd.isna(realized):
        return None
    if realized < holdout_roc_auc - PERFORMANCE_TOLERANCE:
        return (
            f"realized ROC AUC {realized:.3f} on {row['as_of_date']} (active customers) is "
            f"below v{row['model_version']}'s holdout {holdout_roc_auc:.3f} by more than "
            f"{PERFORMANCE_TOLERANCE}"
        )
    return None


def _latest_reason(
    con: duckdb.DuckDBPyConnection, day: dt.date, holdout: dict[str, float]
) -> str | None:
    """Why the state at scoring date ``day`` asks for retraining: its drift, or the most
    recent realized performance known."""
    rows = con.execute(f"select * from {drift.DRIFT_TABLE} where as_of_date = ?", [day]).df()
    reasons = []
    for _, group in rows.groupby("model_version"):
        reasons.append(drift_trigger(group))
    if table_exists(con, REALIZED_TABLE):
        realized = con.execute(
            f"select * from {REALIZED_TABLE} order by as_of_date desc limit 1"
        ).df()
        if len(realized):
            row = realized.iloc[0]
            reasons.append(performance_trigger(row, holdout.get(str(row["model_version"]))))
    found = [r for r in reasons if r]
    return "; ".join(found) if found else None


def update_requests(
    con: duckdb.DuckDBPyConnection, holdout: dict[str, float]
) -> dict[str, object] | None:
    """Evaluate the latest scoring date; raise a request if it asks for one and its streak
    (the consecutive evaluated dates that asked) has none yet. Returns the open request."""
    _ensure_requests(con)
    if not table_exists(con, drift.DRIFT_TABLE):
        return open_request(con)
    day = con.execute(f"select max(as_of_date) from {drift.DRIFT_TABLE}").fetchone()[0]
    if day is None:
        return open_request(con)
    reason = _latest_reason(con, day, holdout)
    con.execute(f"delete from {CONDITIONS_TABLE} where as_of_date = ?", [day])
    con.execute(f"insert into {CONDITIONS_TABLE} values (?, ?)", [day, reason])
    if reason is None:
        return open_request(con)
    evaluated = con.execute(
        f"select as_of_date, reason from {CONDITIONS_TABLE} order by as_of_date desc"
    ).fetchall()
    streak_start = day
    for as_of, why in evaluated:
        if why is None:
            break
        streak_start = as_of
    raised = con.execute(
        f"select count(*) from {REQUESTS_TABLE} where as_of_date >= ?", [streak_start]
    ).fetchone()[0]
    if not raised:
        version = con.execute(
            f"select any_value(model_version) from {drift.DRIFT_TABLE} where as_of_date = ?",
            [day],
        ).fetchone()[0]
        con.execute(
            f"insert into {REQUESTS_TABLE} values (?, ?, ?, ?, ?, null, null)",
            [_now(), day, streak_start, version, reason],
        )
    return open_request(con)


def open_request(con: duckdb.DuckDBPyConnection) -> dict[str, object] | None:
    if not table_exists(con, REQUESTS_TABLE):
        return None
    row = con.execute(
        f"select raised_at, as_of_date, reason, model_version from {REQUESTS_TABLE} "
        "where answered_at is null order by raised_at desc limit 1"
    ).fetchone()
    if row is None:
        return None
    return {
        "raised_at": str(row[0]),
        "as_of_date": str(row[1]),
        "reason": row[2],
        "model_version": row[3],
    }


def answer_requests(con: duckdb.DuckDBPyConnection, version: str) -> int:
    """A new version was trained: every open request is answered by it."""
    _ensure_requests(con)
    opened = con.execute(
        f"select count(*) from {REQUESTS_TABLE} where answered_at is null"
    ).fetchone()[0]
    con.execute(
        f"update {REQUESTS_TABLE} set answered_at = ?, answered_by_version = ? "
        "where answered_at is null",
        [_now(), str(version)],
    )
    return int(opened)


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    out = []
    for record in frame.to_dict("records"):
        clean = {}
        for key, value in record.items():
            if key.endswith("_date") and hasattr(value, "date"):
                value = value.date().isoformat()  # a DATE column, read back as a timestamp
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            elif isinstance(value, float) and pd.isna(value):
                value = None
            elif hasattr(value, "item"):
                value = value.item()
            if key.endswith(("rows", "positives")) and value is not None:
                value = int(value)  # a count, made float by a merge or a HUGEINT sum
            clean[key] = round(value, 6) if isinstance(value, float) else value
        out.append(clean)
    return out


def build(
    con: duckdb.DuckDBPyConnection, online: dict[str, object], request: dict | None
) -> dict[str, object]:
    """The report as ``fti monitor --json`` prints it."""
    drift_rows = (
        con.execute(
            f"select as_of_date, model_version, feature, psi, js, ks, null_rate_change, status "
            f"from {drift.DRIFT_TABLE} order by as_of_date, feature"
        ).df()
        if table_exists(con, drift.DRIFT_TABLE)
        else pd.DataFrame()
    )
    realized = (
        con.execute(f"select * from {REALIZED_TABLE} order by as_of_date, model_version").df()
        if table_exists(con, REALIZED_TABLE)
        else pd.DataFrame()
    )
    estimated = (
        con.execute(f"select * from {ESTIMATED_TABLE} order by as_of_date, model_version").df()
        if table_exists(con, ESTIMATED_TABLE)
        else pd.DataFrame()
    )
    return {
        "generated_at": _now().isoformat(),
        "online_history": online_history(con),
        "drift": _records(drift_rows),
        "realized": _records(realized),
        "estimated": _records(estimated),
        "online": online,
        "retraining": {
            "requested": request is not None,
            "reason": request["reason"] if request else None,
            **(
                {"raised_at": request["raised_at"], "as_of_date": request["as_of_date"]}
                if request
                else {}
            ),
        },
    }


def publish(paths: Paths, report: dict[str, object]) -> None:
    target = paths.published / REPORT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_files.temporary(target)
    tmp.write_text(json.dumps(report, indent=2, default=str))
    os.replace(tmp, target)


def read(paths: Paths) -> dict[str, object] | None:
    path = paths.published / REPORT_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def summary(report: dict[str, object] | None) -> dict[str, object] | None:
    """A few lines of the report for ``fti status``."""
    if report is None:
        return None
    rows = report.get("drift") or []
    latest = max((r["as_of_date"] for r in rows), default=None)
    statuses = [r["status"] for r in rows if r["as_of_date"] == latest]
    realized = report.get("realized") or []
    return {
        "generated_at": report.get("generated_at"),
        "drift_as_of": latest,
        "drift_status": max(statuses, key=drift.STATUS_RANK.get) if statuses else None,
        "drift_alerts": sum(s == "alert" for s in statuses),
        "drift_warnings": sum(s == "warn" for s in statuses),
        "realized_dates": len(realized),
        "latest_realized": realized[-1] if realized else None,
        "online_requests": (report.get("online") or {}).get("requests"),
        "retraining": report.get("retraining"),
    }


ONLINE_HEALTH_TABLE = "monitoring.online_health"


def record_online(con: duckdb.DuckDBPyConnection, health: dict[str, object]) -> None:
    """Keep each measurement of the online service (the dashboard plots them over time)."""
    con.execute("create schema if not exists monitoring")
    con.execute(
        f"create table if not exists {ONLINE_HEALTH_TABLE} (measured_at timestamp, report json)"
    )
    con.execute(
        f"insert into {ONLINE_HEALTH_TABLE} values (?, ?)",
        [_now(), json.dumps(health, default=str)],
    )


def online_history(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """Every measurement of the online service, oldest first, as the dashboard plots it."""
    if not table_exists(con, ONLINE_HEALTH_TABLE):
        return []
    rows = con.execute(
        f"select measured_at, report from {ONLINE_HEALTH_TABLE} order by measured_at, rowid"
    ).fetchall()
    out = []
    for measured_at, payload in rows:
        health = json.loads(payload)
        skew = (health.get("skew") or {}).get("features") or {}
        out.append(
            {
                "measured_at": measured_at.isoformat(),
                **{k: health.get(k) for k in ("requests", "p50_ms", "p95_ms", "p99_ms")},
                "error_rate": health.get("error_rate"),
                "largest_skew": max(skew.values(), default=None),
                "largest_probability_gap": (
                    (health.get("skew") or {}).get("probability_gap") or {}
                ).get("max_abs"),
            }
        )
    return out


def read_online(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    if not table_exists(con, ONLINE_HEALTH_TABLE):
        return {}
    row = con.execute(
        # rowid breaks ties: two measurements within a second
        f"select report from {ONLINE_HEALTH_TABLE} order by measured_at desc, rowid desc limit 1"
    ).fetchone()
    return json.loads(row[0]) if row else {}
