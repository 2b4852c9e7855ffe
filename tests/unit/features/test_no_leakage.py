"""Features as of a date must not change when later transactions are removed."""

import duckdb
import pandas as pd

from ml.ingestion.generator import generate
from ml.ingestion.raw_log import ingest_frames
from tests.helpers import dbt_build

CUTOFF = pd.Timestamp("2024-09-30")  # a grid Monday in the middle of the generated range


def build(path, log, transactions):
    with duckdb.connect(str(path)) as con:
        ingest_frames(con, transactions, log.customers)
    dbt_build(path, "--exclude", "resource_type:test")
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select f.* from features.customer_features f "
            "join features.feature_snapshot_dates s using (as_of_date) "
            "where s.is_grid_date and f.as_of_date <= ? order by customer_id, as_of_date",
            [CUTOFF.date()],
        ).df()


def test_removing_later_transactions_changes_no_past_feature(tmp_path, dbt_manifest):
    log = generate(300, seed=5)
    tx = log.transactions
    full = build(tmp_path / "full.duckdb", log, tx)
    truncated = build(
        tmp_path / "truncated.duckdb", log, tx[tx["transaction_ts"] < CUTOFF + pd.Timedelta(days=1)]
    )
    assert len(full) > 5_000
    pd.testing.assert_frame_equal(full, truncated)
