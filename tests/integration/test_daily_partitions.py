"""New days on top of a built system, through `fti update` (a file) and through Dagster daily
partitions (landed files, a backfilled range in one run, a backfill whose run died before
dbt, one day run twice), equal a full build of all the data."""

from unittest.mock import ANY

import dagster as dg
import duckdb
import pandas as pd
import pytest

from ml.ingestion.generator import generate
from ml.ingestion.raw_log import ingest_customers, ingest_file
from orchestration.cli import main
from orchestration.runner import run_days, run_pipeline, status
from tests.helpers import LIGHT_TRAINING, dbt_build

pytestmark = pytest.mark.slow


def test_daily_partitions_and_backfill_equal_a_full_build(
    fti_home, tmp_path, dbt_manifest, monkeypatch
):
    tx = generate(500, seed=10).transactions.drop(columns=["transaction_id"])
    days = pd.date_range("2025-12-20", "2025-12-30", freq="D")
    tx[tx["transaction_ts"] < days[0]].to_csv(tmp_path / "history.csv", index=False)
    tx.to_csv(tmp_path / "all.csv", index=False)
    landing = fti_home.home / "landing"
    landing.mkdir(parents=True)
    for day in days:
        rows = tx[tx["transaction_ts"].dt.normalize() == day]
        if len(rows):
            rows.to_csv(landing / f"{day.date()}.csv", index=False)

    first, second = sorted(tx["customer_id"].unique())[:2]
    attributes = tmp_path / "crm.csv"
    attributes.write_text(
        "customer_id,updated_at,country,segment\n"
        f"{first},2025-06-01 10:00,FR,loyalty_member\n{second},2025-12-20 08:00,DE,standard\n"
    )

    ok, detail = run_pipeline(str(tmp_path / "history.csv"), training=LIGHT_TRAINING)
    assert ok, detail
    # The first new day comes as a file given to `fti update` (append, incremental build),
    # with the CRM's attribute changes, which the dbt snapshot records...
    update = ["update", "--transactions", str(landing / "2025-12-20.csv")]
    assert main([*update, "--attributes", str(attributes)]) == 0
    assert status(fti_home)["predictions"]["as_of"] == "2025-12-20"
    # ...the next ten as landed files, processed as backfills of daily partitions. The first
    # backfill's run dies as dbt starts: its days are in raw.transactions, no feature has seen
    # them. The next backfill must rebuild from those days, not only from its own first day.
    from orchestration.lib.dbt_project import FtiDbtCliResource

    def dies(self, *args, **kwargs):
        raise RuntimeError("the run died as dbt started")

    with monkeypatch.context() as m:
        m.setattr(FtiDbtCliResource, "cli", dies)
        assert main(["daily", "2025-12-21", "2025-12-25"]) == 1
    assert status(fti_home)["predictions"]["as_of"] == "2025-12-20"  # published: unchanged
    assert main(["daily", "2025-12-26", "2025-12-30"]) == 0

    report = status(fti_home)
    assert report["predictions"]["as_of"] == "2025-12-30"
    with dg.DagsterInstance.get() as instance:
        done = instance.get_materialized_partitions(dg.AssetKey(["raw", "daily_transactions"]))
    assert done == {str(d.date()) for d in days[1:]}
    # The same partition again (a retried or re-sent day) adds nothing: the tables below
    # still equal a single full build.
    assert run_days("2025-12-30") == (True, ANY)

    reference = tmp_path / "reference.duckdb"
    with duckdb.connect(str(reference)) as con:
        ingest_file(con, tmp_path / "all.csv")
        ingest_customers(con, attributes)
    dbt_build(reference, "--exclude", "resource_type:test")
    for table, keys in [
        ("features.int_customer_daily", "customer_id, activity_date"),
        ("features.customer_features", "customer_id, as_of_date"),
        ("features.customer_attributes", "customer_id, valid_from"),
        ("training.churn_labels", "customer_id, as_of_date"),
        ("training.training_set", "customer_id, event_timestamp"),
    ]:
        query = f"select * from {table} order by {keys}"
        with duckdb.connect(str(reference), read_only=True) as con:
            expected = con.execute(query).df()
        with duckdb.connect(str(fti_home.warehouse), read_only=True) as con:
            got = con.execute(query).df()
        pd.testing.assert_frame_equal(got, expected, obj=table)
        if table == "features.customer_attributes":
            assert got["segment"].tolist() == ["loyalty_member", "standard"]
