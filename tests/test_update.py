"""`fti update`: a new day's file on top of a built system equals building everything at once."""

import duckdb
import pandas as pd

from ml.datagen import generate
from ml.ingest import ingest_file
from orchestration.cli import main, run_pipeline, status
from tests.conftest import dbt_build


def test_update_with_new_days_equals_a_full_build(fti_home, tmp_path, dbt_manifest):
    tx = generate(300, seed=9).transactions.drop(columns=["transaction_id"])
    cut = pd.Timestamp("2025-11-20 13:00")
    tx[tx["transaction_ts"] < cut].to_csv(tmp_path / "until.csv", index=False)
    tx[tx["transaction_ts"] >= cut].to_csv(tmp_path / "new.csv", index=False)
    tx.to_csv(tmp_path / "all.csv", index=False)

    ok, detail = run_pipeline(str(tmp_path / "until.csv"))
    assert ok, detail
    assert status(fti_home)["predictions"]["as_of"] == "2025-11-20"
    assert main(["update", "--transactions", str(tmp_path / "new.csv")]) == 0
    report = status(fti_home)
    assert report["predictions"]["as_of"] == "2025-12-30"
    assert report["champion"]["version"] in ("1", "2")
    assert report["tables"]["raw.transactions"] == len(tx)

    reference = tmp_path / "reference.duckdb"
    with duckdb.connect(str(reference)) as con:
        ingest_file(con, tmp_path / "all.csv")
    dbt_build(reference, "--exclude", "resource_type:test")
    for table, keys in [
        ("features.customer_features", "customer_id, as_of_date"),
        ("features.customer_features_v2", "customer_id, as_of_date"),
        ("training.training_set", "customer_id, event_timestamp"),
    ]:
        query = f"select * from {table} order by {keys}"
        with duckdb.connect(str(reference), read_only=True) as con:
            expected = con.execute(query).df()
        with duckdb.connect(str(fti_home.warehouse), read_only=True) as con:
            got = con.execute(query).df()
        pd.testing.assert_frame_equal(got, expected, obj=table)


def test_dbt_build_args():
    from orchestration.defs.dbt import DbtBuildConfig, build_args

    assert build_args(DbtBuildConfig()) == ["build"]
    assert build_args(DbtBuildConfig(incremental_from="2025-11-20")) == [
        "build",
        "--vars",
        '{"incremental_from": "2025-11-20"}',
    ]
