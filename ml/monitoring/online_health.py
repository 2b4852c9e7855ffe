"""The online service from its own logs: traffic, latency, refusals, and online/offline skew.

Skew is measured the way Chronon reports consistency: for each logged prediction, the feature
values the API read from the online store are compared with the offline features of the same
customer as of the same time (point-in-time retrieval from the warehouse, at the snapshot the
store said it served); per feature, the share of requests whose value differs. On-demand
features are computed from the request time and are left out. Beside it, the gap between the
online probability and the batch probability of the same customer, snapshot and version.
A healthy system shows no skew: a non-zero share means the store and the warehouse disagree.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import duckdb
import pandas as pd

from ml.common.warehouse import table_exists
from ml.features.retrieval import SPINE_TIME, retrieve
from ml.features.views import FeatureView, FeatureViewError, required_views, serving_selection
from ml.inference.batch_scoring import HISTORY_TABLE
from ml.monitoring.prediction_log import LOG_COLUMNS

ONLINE_TABLE = "monitoring.online_predictions"
SKEW_TABLE = "monitoring.online_skew"  # per logged request and feature: online != offline
RELATIVE_TOLERANCE = 1e-9


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """The log table, with columns added by later versions of the logger."""
    con.execute("create schema if not exists monitoring")
    columns = ", ".join(f"{name} {kind}" for name, kind in LOG_COLUMNS.items())
    con.execute(f"create table if not exists {ONLINE_TABLE} ({columns})")
    present = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'monitoring' and table_name = 'online_predictions'"
        ).fetchall()
    }
    for name, kind in LOG_COLUMNS.items():
        if name not in present:
            con.execute(f"alter table {ONLINE_TABLE} add column {name} {kind}")


def service(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Answered requests, latency percentiles (ms) of answered requests, refusals by status."""
    answered, p50, p95, p99 = con.execute(
        f"""
        select count(*),
               quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95),
               quantile_cont(latency_ms, 0.99)
        from {ONLINE_TABLE} where coalesce(status, 200) < 400
        """
    ).fetchone()
    errors = dict(
        con.execute(
            f"select cast(status as varchar), count(*) from {ONLINE_TABLE} "
            "where status >= 400 group by 1 order by 1"
        ).fetchall()
    )
    refused = sum(errors.values())
    total = answered + refused

    def ms(value: float | None) -> float | None:
        return None if value is None else round(float(value), 3)

    return {
        "requests": int(total),
        "answered": int(answered),
        "p50_ms": ms(p50),
        "p95_ms": ms(p95),
        "p99_ms": ms(p99),
        "errors": {status: int(n) for status, n in errors.items()},
        "error_rate": round(refused / total, 6) if total else None,
    }


def variants(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """Champion against challenger as served: answered requests, latency, and what each
    version predicted for its share of customers (realized outcomes are batch-only)."""
    rows = con.execute(
        f"""
        select variant, model_version, count(*), count(distinct customer_id),
               avg(churn_probability), avg((risk_band = 'high')::int),
               quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95)
        from {ONLINE_TABLE} where coalesce(status, 200) < 400 and variant is not null
        group by all order by variant, model_version
        """
    ).fetchall()
    keys = (
        "variant",
        "model_version",
        "requests",
        "customers",
        "mean_probability",
        "high_share",
        "p50_ms",
        "p95_ms",
    )
    return [
        {
            k: (round(float(v), 6) if isinstance(v, float) else v)
            for k, v in zip(keys, row, strict=True)
        }
        for row in rows
    ]


def _differs(online: object, offline: object) -> bool:
    """Whether an online value (from JSON) and an offline one (from DuckDB) disagree."""
    online_null = online is None or (isinstance(online, float) and math.isnan(online))
    offline_null = offline is None or bool(pd.isna(offline))
    if online_null or offline_null:
        return online_null != offline_null
    if isinstance(offline, dt.date | dt.datetime | pd.Timestamp):
        return pd.Timestamp(str(online)) != pd.Timestamp(offline)
    if isinstance(online, bool | int | float) and not isinstance(offline, str):
        return not math.isclose(float(online), float(offline), rel_tol=RELATIVE_TOLERANCE)
    return str(online) != str(offline)


def _known(as_of: object) -> bool:
    return as_of is not None and str(as_of) not in ("", "None")


def _spine_time(as_of: str) -> str:
    """A store's as-of as a spine time of the same type (a DATE means the end of that day)."""
    return f"date '{as_of}'" if len(as_of) == 10 else f"timestamp '{as_of}'"


def _logged(con: duckdb.DuckDBPyConnection, where: str, limit: int) -> pd.DataFrame:
    frame = con.execute(
        f"""
        select request_id, customer_id, model_version, churn_probability,
               features_as_of, features, feature_versions
        from {ONLINE_TABLE}
        where coalesce(status, 200) < 400 and features is not null
          and feature_versions is not null and {where}
        order by logged_at desc limit {limit}
        """
    ).df()
    for column in ("features", "features_as_of", "feature_versions"):
        frame[column] = frame[column].map(json.loads)
    return frame


def record_skew(
    con: duckdb.DuckDBPyConnection, views: list[FeatureView], limit: int = 10_000
) -> int:
    """Compare every logged prediction not compared yet with the warehouse, and keep the
    outcome per request and feature in ``SKEW_TABLE``; returns how many were compared.

    Run when the logs are loaded, before the run's dbt build: the store served the snapshot
    of the last data day, which the next build replaces once later days arrive. A request
    whose snapshot is gone (or whose view definition changed) is kept as not comparable
    (``differs`` null) rather than compared with another day's values.
    """
    con.execute(
        f"create table if not exists {SKEW_TABLE} "
        "(request_id varchar, feature varchar, differs boolean)"
    )
    logged = _logged(con, f"request_id not in (select request_id from {SKEW_TABLE})", limit)
    if logged.empty:
        return 0
    results: list[tuple[str, str | None, bool | None]] = []
    for versions, group in logged.groupby(logged["feature_versions"].map(json.dumps)):
        tags = {f"feature_view.{view}": pinned for view, pinned in json.loads(versions).items()}
        try:
            selection = serving_selection(required_views(tags), views)
        except FeatureViewError:  # a view definition changed since: nothing to compare with
            results.extend((r, None, None) for r in group["request_id"])
            continue
        for view, features in selection.items():
            _compare_view(con, group, view, features, results)
    frame = pd.DataFrame(results, columns=["request_id", "feature", "differs"])
    con.register("_skew", frame)
    try:
        con.execute(f"insert into {SKEW_TABLE} select * from _skew")
    finally:
        con.unregister("_skew")
    return len(logged)


def skew(con: duckdb.DuckDBPyConnection, limit: int = 10_000) -> dict[str, object]:
    """Per feature, the share of the latest ``limit`` compared predictions whose online value
    differed from the offline one; how many could not be compared; and the online-batch
    probability gap."""
    logged = _logged(con, "true", limit)
    if logged.empty or not table_exists(con, SKEW_TABLE):
        return {"compared": 0, "not_comparable": 0, "features": {}, "probability_gap": None}
    con.register("_latest", logged[["request_id"]])
    try:
        shares = con.execute(
            f"""
            select feature, count(differs), sum(differs::int)
            from {SKEW_TABLE} join _latest using (request_id)
            where feature is not null and differs is not null
            group by feature order by feature
            """
        ).fetchall()
        # A request counts as compared when every feature it was served could be; one whose
        # snapshot was gone for some view counts as not comparable (its other views still
        # count in their features' shares).
        compared, partly = con.execute(
            f"""
            select count(*) filter (where gaps = 0), count(*) filter (where gaps > 0)
            from (
                select request_id, count(*) filter (where differs is null) as gaps
                from {SKEW_TABLE} join _latest using (request_id) group by request_id
            )
            """
        ).fetchall()[0]
    finally:
        con.unregister("_latest")
    return {
        "compared": int(compared),
        "not_comparable": int(partly),
        "features": {name: round(int(bad) / n, 6) for name, n, bad in shares},
        "probability_gap": _probability_gap(con, logged),
    }


def _compare_view(
    con: duckdb.DuckDBPyConnection,
    group: pd.DataFrame,
    view: FeatureView,
    features: list[str],
    results: list[tuple[str, str | None, bool | None]],
) -> None:
    # A view the store holds nothing of (no attributes in a user's log) has no as-of (the
    # API says "None").
    rows = group[group["features_as_of"].map(lambda marks: _known(marks.get(view.name)))]
    if rows.empty:
        return
    spine = pd.DataFrame(
        {
            "customer_id": rows["customer_id"].to_numpy(),
            "as_of": rows["features_as_of"].map(lambda marks: str(marks[view.name])).to_numpy(),
        }
    )
    for as_of, part in spine.groupby("as_of", sort=True):
        requests = rows.iloc[part.index.to_numpy()]
        columns = [f"{view.name}__{f}" for f in features]
        if len(as_of) == 10 and not _snapshot_exists(con, view, as_of):
            results.extend((r, c, None) for r in requests["request_id"] for c in columns)
            continue
        con.register("_skew_ids", part[["customer_id"]])
        try:
            con.execute(
                f"create or replace temp table _skew_spine as "
                f"select customer_id, {_spine_time(as_of)} as {SPINE_TIME} from _skew_ids"
            )
            offline = retrieve(
                con, "_skew_spine", {view: features}, lambda query: con.execute(query).df()
            )
        finally:
            con.unregister("_skew_ids")
            con.execute("drop table if exists _skew_spine")
        # retrieval keeps spine order
        for i, (request_id, values) in enumerate(
            zip(requests["request_id"], requests["features"], strict=True)
        ):
            for column in columns:
                if column in values:
                    results.append(
                        (request_id, column, _differs(values[column], offline[column].iloc[i]))
                    )


def _snapshot_exists(con: duckdb.DuckDBPyConnection, view: FeatureView, as_of: str) -> bool:
    """Whether the warehouse still holds the snapshot a request was served from."""
    return bool(
        con.execute(
            f"select exists (select 1 from {view.relation} "
            f'where "{view.timestamp_column}" = cast(? as date))',
            [as_of],
        ).fetchall()[0][0]
    )


def _probability_gap(con: duckdb.DuckDBPyConnection, logged: pd.DataFrame) -> dict | None:
    """Online vs batch probability of the same customer, model version and snapshot date."""
    keys = pd.DataFrame(
        {
            "customer_id": logged["customer_id"].to_numpy(),
            "model_version": logged["model_version"].astype(str).to_numpy(),
            "online": logged["churn_probability"].to_numpy(),
            # The snapshot date batch scoring used: the date-typed views' as-of (an attribute
            # view's as-of is the time of its latest change).
            "as_of": [
                max(
                    (str(v) for v in marks.values() if v is not None and len(str(v)) == 10),
                    default=None,
                )
                for marks in logged["features_as_of"]
            ],
        }
    )
    con.register("_online", keys)
    try:
        pairs, mean_gap, max_gap = con.execute(
            f"""
            select count(*), avg(abs(o.online - h.churn_probability)),
                   max(abs(o.online - h.churn_probability))
            from _online as o join {HISTORY_TABLE} as h
              on h.customer_id = o.customer_id and h.model_version = o.model_version
             and h.as_of_date = cast(o.as_of as date)
            """
        ).fetchall()[0]  # fetched whole: DuckDB refuses to unregister under an open result
    except duckdb.CatalogException:
        return None
    finally:
        con.unregister("_online")
    if not pairs:
        return {"pairs": 0, "mean_abs": None, "max_abs": None}
    return {"pairs": int(pairs), "mean_abs": round(mean_gap, 6), "max_abs": round(max_gap, 6)}
