"""Property test: the compiled dbt feature SQL equals a brute-force reference on random logs.

dbt compiles the models once; hypothesis then runs the compiled SQL in an in-memory DuckDB
for each random log, so hundreds of examples take seconds, and the SQL under test is exactly
the SQL dbt runs.
"""

import json
import os
import subprocess
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml.common.settings import DBT_PROJECT_DIR
from tests.helpers import BIN

MODELS = [
    ("staging", "stg_transactions"),
    ("staging", "stg_customers"),
    ("features", "int_customer_daily"),
    ("features", "feature_snapshot_dates"),
    ("features", "customer_features"),
    ("training", "churn_labels"),
]
START = date(2024, 1, 1)


@pytest.fixture(scope="module")
def compiled_sql(tmp_path_factory, dbt_manifest):
    folder = tmp_path_factory.mktemp("compile")
    target = folder / "target"
    env = {**os.environ, "FTI_WAREHOUSE": str(folder / "warehouse.duckdb")}
    subprocess.run(
        [
            str(BIN / "dbt"),
            "compile",
            "--quiet",
            "--target-path",
            str(target),
            "--select",
            *[name for _, name in MODELS],
        ],
        cwd=DBT_PROJECT_DIR,
        env=env,
        check=True,
        capture_output=True,
    )
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    # Versioned models have ids like model.fti.customer_features.v1: take the latest version.
    latest = {
        n["name"]: n
        for n in nodes.values()
        if n["resource_type"] == "model" and n.get("version") in (None, n.get("latest_version"))
    }
    return [(schema, name, latest[name]["compiled_code"]) for schema, name in MODELS]


def run_models(compiled_sql, transactions: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("attach ':memory:' as warehouse; use warehouse")
    for schema in ("raw", "staging", "features", "training"):
        con.execute(f"create schema {schema}")
    con.register("tx", transactions)
    con.execute(
        "create table raw.transactions as select transaction_id, customer_id, transaction_ts, "
        "amount, null::integer as quantity from tx"
    )
    con.execute(
        "create table raw.customers (customer_id varchar, signup_date date, "
        "acquisition_channel varchar, country varchar, segment varchar, updated_at timestamp)"
    )
    for schema, name, sql in compiled_sql:
        con.execute(f"create table {schema}.{name} as {sql}")
    return con


def reference(transactions: pd.DataFrame, as_of: date, customer: str) -> dict:
    tx = transactions[transactions["customer_id"] == customer]
    days = tx["transaction_ts"].dt.date
    past = tx[days <= as_of]

    def window(n):
        w = past[days[days <= as_of] > as_of - timedelta(days=n)]
        return len(w), round(w["amount"].sum(), 2)

    past_days = past["transaction_ts"].dt.date
    return {
        "recency_days": (as_of - past_days.max()).days,
        "tenure_days": (as_of - past_days.min()).days,
        "transactions_30d": window(30)[0],
        "spend_30d": window(30)[1],
        "transactions_90d": window(90)[0],
        "spend_90d": window(90)[1],
        "transactions_365d": window(365)[0],
        "spend_365d": window(365)[1],
        "active_days_90d": past_days[past_days > as_of - timedelta(days=90)].nunique(),
        "lifetime_transactions": len(past),
        "lifetime_spend": round(past["amount"].sum(), 2),
    }


purchases = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(min_value=0, max_value=500),  # day
        st.integers(min_value=0, max_value=86399),  # second of the day
        st.integers(min_value=1, max_value=50_000),  # cents
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(purchases)
def test_features_equal_brute_force(compiled_sql, rows):
    transactions = pd.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "transaction_ts": [
                pd.Timestamp(START) + pd.Timedelta(days=r[1], seconds=r[2]) for r in rows
            ],
            "amount": [r[3] / 100 for r in rows],
        }
    )
    con = run_models(compiled_sql, transactions)
    features = con.execute("select * from features.customer_features").df()
    first = transactions.groupby("customer_id")["transaction_ts"].min().dt.date
    snapshots = con.execute("select as_of_date from features.feature_snapshot_dates").df()
    expected_rows = sum((pd.to_datetime(snapshots["as_of_date"]).dt.date >= f).sum() for f in first)
    # One row per customer and snapshot from the first purchase on, no more, no fewer.
    assert len(features) == expected_rows
    for row in features.itertuples(index=False):
        want = reference(transactions, row.as_of_date.date(), row.customer_id)
        got = {k: getattr(row, k) for k in want}
        for key, value in want.items():
            assert got[key] == pytest.approx(value, abs=0.011), (
                row.customer_id,
                row.as_of_date,
                key,
            )
    # Labels never look past the horizon and the horizon never passes the data's end.
    end = transactions["transaction_ts"].max().date()
    labeled = con.execute("select max(horizon_end_date) from training.churn_labels").fetchone()[0]
    assert labeled is None or labeled <= end
