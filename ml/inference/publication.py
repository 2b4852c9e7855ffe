"""Published snapshots: what the dashboard and ``fti status`` read instead of the warehouse.

A DuckDB file being written by a pipeline cannot be opened by anyone else, so readers get
immutable snapshot folders (Parquet + a JSON manifest) and a pointer file, ``current.json``,
that is replaced atomically (``os.replace``) once a snapshot is complete. A reader sees the
previous snapshot or the new one, never a half-written one.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from ml.common import atomic_files
from ml.common.faults import stall_point
from ml.common.settings import Paths
from ml.common.warehouse import table_row_counts
from ml.inference import console_data
from ml.inference.batch_scoring import PREDICTIONS_TABLE

KEEP_SNAPSHOTS = 3
POINTER = "current.json"


def publish_snapshot(
    paths: Paths,
    con: duckdb.DuckDBPyConnection,
    champion: dict[str, object] | None,
    run_id: str | None = None,
    registry: console_data.RegistryView | None = None,
    active_days: int = 180,
) -> dict[str, object]:
    snapshots = paths.published / "snapshots"
    now = datetime.now(UTC)
    name = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    target = snapshots / name
    target.mkdir(parents=True)
    predictions_file = target / "predictions.parquet"
    con.execute(
        f"copy (select * from {PREDICTIONS_TABLE} order by churn_probability desc, customer_id) "
        f"to '{predictions_file}' (format parquet)"
    )
    rows, as_of = con.execute(
        f"select count(*), max(as_of_date)::varchar from {PREDICTIONS_TABLE}"
    ).fetchone()
    tables = table_row_counts(con)
    reasons = dict(
        con.execute(
            "select reject_reason, count(*) from raw.rejected_transactions group by 1 order by 1"
        ).fetchall()
    )
    manifest = {
        "published_at": now.isoformat(timespec="seconds"),
        "snapshot": name,
        "dagster_run_id": run_id,
        "champion": champion,
        "predictions": {"rows": rows, "as_of": as_of, "file": predictions_file.name},
        "rejected_rows": tables.get("raw.rejected_transactions", 0),
        "rejected_by_reason": reasons,
        "tables": tables,
        "console": console_data.write(
            con, target, registry or console_data.RegistryView(), active_days
        ),
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    pointer_tmp = atomic_files.temporary(paths.published / POINTER)
    pointer_tmp.write_text(json.dumps({"snapshot": name}))
    stall_point("publish_snapshot")
    os.replace(pointer_tmp, paths.published / POINTER)
    _prune(snapshots, keep=name)
    return manifest


def _prune(snapshots: Path, keep: str) -> None:
    """Drop all but the newest snapshots; readers holding an older one have had time to finish."""
    names = sorted(p.name for p in snapshots.iterdir() if p.is_dir())
    for old in names[:-KEEP_SNAPSHOTS]:
        if old != keep:
            shutil.rmtree(snapshots / old, ignore_errors=True)


def current_snapshot(paths: Paths) -> Path | None:
    pointer = paths.published / POINTER
    if not pointer.exists():
        return None
    folder = paths.published / "snapshots" / json.loads(pointer.read_text())["snapshot"]
    return folder if (folder / "manifest.json").exists() else None


def read_manifest(paths: Paths) -> dict[str, object] | None:
    folder = current_snapshot(paths)
    return None if folder is None else json.loads((folder / "manifest.json").read_text())


def console_file(paths: Paths, name: str) -> Path | None:
    """A file of the current snapshot the dashboard's pages read, if that snapshot has it
    (snapshots published before a page existed do not)."""
    folder = current_snapshot(paths)
    return None if folder is None or not (folder / name).exists() else folder / name


def read_predictions(paths: Paths) -> pd.DataFrame | None:
    folder = current_snapshot(paths)
    return None if folder is None else pd.read_parquet(folder / "predictions.parquet")


def stale_predictions(paths: Paths, champion: str | None) -> str | None:
    """Why the published predictions are not the champion's, or None: they were scored by
    the champion of their publication, and the alias may have moved since (a promotion, a
    rollback, or a run that died between registering a new champion and scoring)."""
    manifest = read_manifest(paths) or {}
    scored_by = (manifest.get("champion") or {}).get("version")
    if champion is None or scored_by is None or champion == scored_by:
        return None
    return (
        f"the champion is v{champion} but the predictions were scored by v{scored_by}; "
        f"the next run scores with v{champion}"
    )
