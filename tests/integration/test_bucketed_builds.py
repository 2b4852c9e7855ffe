"""Models too large for DuckDB's memory limit are built in customer buckets
(dbt_project/macros/buckets.sql, ml/features/buckets.py): the session pipeline's warehouse,
rebuilt with a memory share small enough for several buckets, in full and incrementally, holds
exactly the rows the one-statement build made."""

import re
import shutil
from pathlib import Path

import duckdb

from ml.features.buckets import bucket_count
from tests.helpers import _dbt, fingerprint

MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models"

BUCKETED = ("features.customer_features", "training.churn_labels", "training.training_set")
SELECT = ["--select", "customer_features churn_labels training_set"]


def _rebuild(warehouse, spill, *flags, incremental_from: str = ""):
    """`dbt run` of the bucketed models with a 100MB limit, aiming at 5% of it per bucket."""
    result = _dbt(
        warehouse,
        "run",
        *SELECT,
        *flags,
        "--vars",
        "{bucket_memory_share: 0.05}",
        env={
            "FTI_DUCKDB_MEMORY_LIMIT": "100MB",
            "FTI_DUCKDB_SPILL": str(spill),
            "FTI_INCREMENTAL_FROM": incremental_from,
        },
    )
    return dict(re.findall(r'"(\w+)": (\d+) customer bucket', result.stdout))


def _fingerprints(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {table: fingerprint(con, table) for table in BUCKETED}


def _sized_in_python(warehouse, model: Path) -> int:
    """The bucket count ml/features/buckets.py gives a model's rows (a full build's timeline:
    customers x their snapshot dates) at the rebuild's limit and share, with the bytes per row
    its pre-hook names: the Jinja and Python sides of the sizing rule must agree."""
    (bytes_per_row,) = re.findall(r"bytes_per_row=(\d+)", model.read_text())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (rows,) = con.execute("select count(*) from features.customer_features").fetchone()
    with duckdb.connect(config={"memory_limit": "100MB"}) as con:
        return bucket_count(con, rows, int(bytes_per_row), memory_share=0.05)


def _date_descents(warehouse) -> int:
    """How many of the timeline's stored rows have an earlier as-of date than the row before."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select count(*) from (select as_of_date < lag(as_of_date) over (order by rowid) "
            "as descent from features.customer_features) where descent"
        ).fetchone()[0]


def test_bucketed_builds_hold_the_rows_of_one_statement(pipeline_home, first_build, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_home.warehouse, warehouse)
    expected = {table: first_build[table] for table in BUCKETED}

    counts = _rebuild(warehouse, tmp_path / "spill", "--full-refresh")
    assert int(counts["customer_features"]) > 1 and int(counts["churn_labels"]) > 1, counts
    assert int(counts["customer_features"]) == _sized_in_python(
        warehouse, MODELS / "features" / "customer_features_v1.sql"
    )
    assert int(counts["churn_labels"]) == _sized_in_python(
        warehouse, MODELS / "training" / "churn_labels.sql"
    )
    assert _fingerprints(warehouse) == expected
    # Each bucket's rows are stored in as-of-date order (macros/engine.sql:
    # stored_in_order_of), so a scan of the latest snapshot skips every other date's rows.
    assert _date_descents(warehouse) <= int(counts["customer_features"]) - 1

    with duckdb.connect(str(warehouse), read_only=True) as con:
        (middle,) = con.execute(  # the later half of the snapshots is rebuilt
            "select quantile_disc(as_of_date, 0.5) from features.feature_snapshot_dates"
        ).fetchone()
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'training'"
        ).fetchall()
    assert ("training_set__buckets",) not in tables  # the staging table became the model
    counts = _rebuild(warehouse, tmp_path / "spill", incremental_from=f"{middle:%Y-%m-%d}")
    assert int(counts["customer_features"]) > 1 and int(counts["churn_labels"]) > 1, counts
    assert _fingerprints(warehouse) == expected
