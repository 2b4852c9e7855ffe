"""The quality gate between the feature pipeline and everything that consumes features.

dbt tests check each row (keys unique, values in range, no nulls where none may be); they
cannot see the run before. The checks here compare this build's feature views with the last
published build of the same source: a view that lost rows or entities, or a feature whose
null rate jumped, means the input or the SQL broke, and publishing it would quietly degrade
every prediction. Only a build that passes is copied to ``published/feature_store.duckdb``, the
database analysts, the online store and scoring trust; a failed one leaves the last good
copy in place.

"Same source" is the source of the last full load (a generated dataset with its size and
seed, or a file name); appended days keep it. A full load of different data starts a new
baseline rather than failing against an unrelated one.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ml.common import atomic_files, warehouse
from ml.common.faults import stall_point
from ml.common.settings import Paths
from ml.features.views import FeatureView
from ml.ingestion import load_log

DATABASE = "feature_store.duckdb"


@dataclass(frozen=True)
class QualityRules:
    max_row_drop: float = 0.2  # fraction of a view's rows or entities that may disappear
    max_null_rate_rise: float = 0.1  # absolute rise of a feature's null rate


@dataclass(frozen=True)
class Check:
    name: str
    view: str
    passed: bool
    detail: str


@dataclass
class QualityReport:
    lineage: str | None
    profile: dict[str, dict[str, object]]
    baseline: str | None  # published_at of the build compared against, if any
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.passed:
            return f"{len(self.checks)} checks passed"
        return "; ".join(f"{c.view}: {c.detail}" for c in self.failures)


def database_path(paths: Paths) -> Path:
    return paths.published / DATABASE


def profile_view(con: duckdb.DuckDBPyConnection, view: FeatureView) -> dict[str, object]:
    """Rows, entities and each feature's null rate, in one scan."""
    nulls = ", ".join(f'avg(("{f}" is null)::int)' for f in view.features)
    row = con.execute(
        f'select count(*), count(distinct "{view.entity}"), {nulls} from {view.relation}'
    ).fetchone()
    return {
        "rows": row[0],
        "entities": row[1],
        "null_rates": {
            f: (None if r is None else round(float(r), 6))
            for f, r in zip(view.features, row[2:], strict=True)
        },
    }


def check(
    con: duckdb.DuckDBPyConnection,
    views: list[FeatureView],
    previous: dict[str, object] | None,
    rules: QualityRules = QualityRules(),
) -> QualityReport:
    """Profile every view and compare it with ``previous`` (the last publication's record)."""
    lineage = load_log.lineage(con)
    profile = {f"{v.name}@{v.version}": profile_view(con, v) for v in views}
    comparable = previous is not None and previous.get("lineage") == lineage
    report = QualityReport(lineage, profile, previous["published_at"] if comparable else None)
    for view, now in profile.items():
        if now["rows"] > 0:
            empty = [f for f, r in now["null_rates"].items() if r == 1.0]
            report.checks.append(
                Check(
                    "no_empty_feature",
                    view,
                    not empty,
                    f"every value of {', '.join(empty)} is null" if empty else "ok",
                )
            )
        before = previous["profile"].get(view) if comparable else None
        if before is None:
            continue
        for measure in ("rows", "entities"):
            floor = before[measure] * (1 - rules.max_row_drop)
            ok = now[measure] >= floor
            report.checks.append(
                Check(
                    f"{measure}_not_dropped",
                    view,
                    ok,
                    f"{measure} {before[measure]} -> {now[measure]}"
                    + ("" if ok else f" (more than {rules.max_row_drop:.0%} lost)"),
                )
            )
        risen = {
            f: (before["null_rates"].get(f), rate)
            for f, rate in now["null_rates"].items()
            if rate is not None
            and before["null_rates"].get(f) is not None
            and rate - before["null_rates"][f] > rules.max_null_rate_rise
        }
        report.checks.append(
            Check(
                "null_rates_stable",
                view,
                not risen,
                "; ".join(f"{f} null rate {a:.1%} -> {b:.1%}" for f, (a, b) in risen.items())
                or "ok",
            )
        )
    return report


def read_publication(paths: Paths) -> dict[str, object] | None:
    """The record of the last published build, or None before the first one."""
    path = database_path(paths)
    if not path.exists():
        return None
    with warehouse.connect(path, read_only=True) as con:
        row = con.execute("select record from meta.publication").fetchall()[0]
    return json.loads(row[0])


def publish_features(
    paths: Paths,
    con: duckdb.DuckDBPyConnection,
    report: QualityReport,
    run_id: str | None = None,
) -> dict[str, object]:
    """Copy the feature tables (not the intermediate ``int_`` models) to a new database file
    and swap it in; readers holding the old file keep reading it undisturbed."""
    tables = [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'features' and table_name not like 'int\\_%' escape '\\' "
            "order by 1"
        ).fetchall()
    ]
    record = {
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dagster_run_id": run_id,
        "lineage": report.lineage,
        "profile": report.profile,
        "checks": [asdict(c) for c in report.checks],
        "tables": tables,
    }
    target = database_path(paths)
    tmp = atomic_files.temporary(target)
    alias = f"publish_{uuid.uuid4().hex[:8]}"
    literal = str(tmp).replace("'", "''")
    try:
        con.execute(f"attach '{literal}' as {alias}")
        try:
            con.execute(f"create schema {alias}.features")
            con.execute(f"create schema {alias}.meta")
            for table in tables:
                con.execute(
                    f'create table {alias}.features."{table}" as select * from features."{table}"'
                )
            con.execute(f"create table {alias}.meta.publication (record varchar)")
            con.execute(
                f"insert into {alias}.meta.publication values (?)",
                [json.dumps(record, default=str)],
            )
        finally:
            con.execute(f"detach {alias}")
        stall_point("publish_features")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    return record
