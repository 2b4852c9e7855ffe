"""An incremental feature build after new transactions equals a full rebuild."""

import duckdb
import pandas as pd
import pytest

from ml.ingestion.generator import generate
from ml.ingestion.raw_log import ingest_frames
from tests.helpers import dbt_build

TABLES = {
    "features.int_customer_daily": ["customer_id", "activity_date"],
    "features.feature_snapshot_dates": ["as_of_date"],
    "features.customer_features": ["customer_id", "as_of_date"],
    "features.customer_features_v2": ["customer_id", "as_of_date"],
    "training.churn_labels": ["customer_id", "as_of_date"],
    "training.training_set": ["customer_id", "event_timestamp"],
}


def load(path, log, transactions):
    with duckdb.connect(str(path)) as con:
        ingest_frames(con, transactions, log.customers)


def tables(path):
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            name: con.execute(f"select * from {name} order by {', '.join(keys)}").df()
            for name, keys in TABLES.items()
        }


@pytest.mark.parametrize("new_from", ["2025-06-03", "2025-11-24"])
def test_incremental_equals_full_rebuild(tmp_path, dbt_manifest, new_from):
    log = generate(300, seed=8)
    tx = log.transactions
    full = tmp_path / "full.duckdb"
    load(full, log, tx)
    dbt_build(full, "--exclude", "resource_type:test")

    incremental = tmp_path / "incremental.duckdb"
    load(incremental, log, tx[tx["transaction_ts"] < pd.Timestamp(new_from)])
    dbt_build(incremental, "--exclude", "resource_type:test")
    # Mark one old snapshot row: an incremental run must leave it alone, not recompute it.
    marker = (
        "where (customer_id, as_of_date) = (select (customer_id, as_of_date) "
        "from features.customer_features order by as_of_date, customer_id limit 1)"
    )
    with duckdb.connect(str(incremental)) as con:
        real = con.execute(f"select lifetime_spend from features.customer_features {marker}").df()
        con.execute(f"update features.customer_features set lifetime_spend = -1 {marker}")
    load(incremental, log, tx)  # the new days arrive
    dbt_build(incremental, env={"FTI_INCREMENTAL_FROM": new_from})

    with duckdb.connect(str(incremental)) as con:
        untouched = con.execute(f"select lifetime_spend from features.customer_features {marker}")
        assert set(untouched.df()["lifetime_spend"]) == {-1}
        value = real["lifetime_spend"][0]
        con.execute(f"update features.customer_features set lifetime_spend = {value} {marker}")
        # The training set (rebuilt in full every time) read the marked row: restore it too.
        con.execute(
            "update training.training_set set customer_features__lifetime_spend = "
            f"{value} where customer_features__lifetime_spend = -1"
        )
    expected, got = tables(full), tables(incremental)
    for name in TABLES:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=name)
