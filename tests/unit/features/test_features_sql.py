"""The dbt feature, label and training-set models against values computed by hand."""

import datetime as dt

import duckdb
import pytest
import yaml

from ml.common.settings import REPO_ROOT
from ml.ingestion.raw_log import ingest_file
from tests.helpers import dbt_build, dbt_test_units

LOG = """customer_id,transaction_ts,amount
A,2024-01-01 09:00,10.0
A,2024-01-15 10:00,5.0
A,2024-01-15 18:30,15.0
A,2024-03-01,30.0
A,2024-06-10,8.0
B,2024-02-01,12.0
C,2024-02-03,7.0
C,2024-02-04,3.0
D,2024-03-01,20.0
D,2024-05-01,25.0
"""
AS_OF = dt.date(2024, 3, 4)  # a Monday, on the weekly grid anchored at 2000-01-03

COLUMNS = (
    "recency_days, tenure_days, transactions_30d, spend_30d, transactions_90d, spend_90d, "
    "transactions_365d, spend_365d, active_days_90d, lifetime_transactions, lifetime_spend, "
    "avg_basket_lifetime, avg_basket_90d, purchases_per_month, acquisition_channel"
)
EXPECTED = {
    # A: 01-01 (10), 01-15 (5 + 15), 03-01 (30); the 06-10 purchase is after the as-of date.
    "A": (3, 63, 1, 30.0, 4, 60.0, 4, 60.0, 3, 4, 60.0, 15.0, 15.0, 1.9048, "unknown"),
    # B: one purchase 32 days before: outside the 30-day window, inside the 90-day one.
    "B": (32, 32, 0, 0.0, 1, 12.0, 1, 12.0, 1, 1, 12.0, 12.0, 12.0, 0.9375, "unknown"),
    # C: 02-03 is exactly 30 days before (excluded from 30d), 02-04 is 29 days before (included).
    "C": (29, 30, 1, 3.0, 2, 10.0, 2, 10.0, 2, 2, 10.0, 5.0, 5.0, 2.0, "unknown"),
    "D": (3, 3, 1, 20.0, 1, 20.0, 1, 20.0, 1, 1, 20.0, 20.0, 20.0, 10.0, "unknown"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory, dbt_manifest):
    """The hand-computed log built by dbt, and dbt's unit tests run against it (they need the
    models' parents to exist, and dbt must open the file before this process does)."""
    folder = tmp_path_factory.mktemp("hand")
    path = folder / "warehouse.duckdb"
    (folder / "log.csv").write_text(LOG)
    with duckdb.connect(str(path)) as con:
        ingest_file(con, folder / "log.csv")
    dbt_build(path)
    return path, dbt_test_units(path)


@pytest.fixture(scope="module")
def warehouse(built):
    con = duckdb.connect(str(built[0]), read_only=True)
    yield con
    con.close()


def test_features_as_of_a_date(warehouse):
    rows = warehouse.execute(
        f"select customer_id, {COLUMNS} from features.customer_features "
        "where as_of_date = ? order by customer_id",
        [AS_OF],
    ).fetchall()
    assert {r[0]: tuple(r[1:]) for r in rows} == EXPECTED


def test_dbt_unit_tests_of_the_window_and_horizon_edges(built):
    """The same edges as dbt `unit_tests:` (models/features/customer_features.yml,
    models/training/churn_labels.yml), as an analytics engineer runs them."""
    out = built[1].stdout
    # PASS counts the run-start hook too (macros/engine.sql; it does nothing on DuckDB).
    assert "3 unit tests in" in out, out
    assert "ERROR=0" in out and "PASS=4 " in out, out


def test_customers_appear_from_their_first_purchase(warehouse):
    rows = warehouse.execute(
        "select customer_id, recency_days, tenure_days, purchases_per_month "
        "from features.customer_features where as_of_date = date '2024-01-01'"
    ).fetchall()
    assert rows == [("A", 0, 0, 30.0)]


def test_snapshot_dates(warehouse):
    dates = warehouse.execute(
        "select as_of_date, is_latest from features.feature_snapshot_dates order by 1"
    ).fetchall()
    assert dates[0] == (dt.date(2024, 1, 1), False)
    assert dates[-1] == (dt.date(2024, 6, 10), True)
    assert all((b[0] - a[0]).days == 7 for a, b in zip(dates[:-1], dates[1:], strict=True))


def test_labels(warehouse):
    rows = warehouse.execute(
        "select customer_id, horizon_end_date, transactions_in_horizon, churned "
        "from training.churn_labels where as_of_date = ? order by 1",
        [AS_OF],
    ).fetchall()
    end = dt.date(2024, 6, 2)
    assert rows == [("A", end, 0, 1), ("B", end, 0, 1), ("C", end, 0, 1), ("D", end, 1, 0)]
    # Only as-of dates whose 90-day horizon lies within the data are labeled.
    last = warehouse.execute("select max(as_of_date) from training.churn_labels").fetchone()[0]
    assert last + dt.timedelta(days=90) <= dt.date(2024, 6, 10)


def test_training_set_joins_features_point_in_time(warehouse):
    rows = warehouse.execute(
        "select customer_id, event_timestamp, customer_features__recency_days, "
        "customer_features__spend_90d, churned "
        "from training.training_set where event_timestamp = ? order by 1",
        [AS_OF],
    ).fetchall()
    assert rows == [
        ("A", AS_OF, 3, 60.0, 1),
        ("B", AS_OF, 32, 12.0, 1),
        ("C", AS_OF, 29, 10.0, 1),
        ("D", AS_OF, 3, 20.0, 0),
    ]


def test_version_2_adds_trends(warehouse):
    rows = warehouse.execute(
        "select customer_id, spend_trend_30_90, transactions_trend_90_365 "
        "from features.customer_features_v2 where as_of_date = ? order by 1",
        [AS_OF],
    ).fetchall()
    # A: 30 / (60 / 3) = 1.5 and 4 / (4 / (365 / 90)) = 4.0556; B spent nothing in 30 days.
    assert rows == [("A", 1.5, 4.0556), ("B", 0.0, 4.0556), ("C", 0.9, 4.0556), ("D", 3.0, 4.0556)]


def test_the_benchmark_reference_computes_the_same_features(warehouse):
    """bench/sql/hand_features.sql, the hand-written reference `make bench` times the dbt
    models against, must compute exactly customer_features_v2 (else the ratio means nothing)."""
    project_vars = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    query = (REPO_ROOT / "bench" / "sql" / "hand_features.sql").read_text()
    query = query.format(**project_vars["vars"])
    hand = f"({query})"
    dbt = "features.customer_features_v2"
    assert warehouse.execute(f"select count(*) from {hand}").fetchone()[0] > 0
    for left, right in ((hand, dbt), (dbt, hand)):
        differ = warehouse.execute(
            f"select count(*) from (select * from {left} except all select * from {right})"
        ).fetchone()[0]
        assert differ == 0
