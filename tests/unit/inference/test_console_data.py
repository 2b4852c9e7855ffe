"""The dashboard's files, computed by hand on a tiny warehouse."""

from datetime import date

import duckdb
import pandas as pd
import pytest

from ml.inference import console_data


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema predictions; create schema features; create schema raw")
    con.execute(
        """
        create table predictions.churn_prediction_history (
            customer_id varchar, as_of_date date, churn_probability double,
            risk_band varchar, recency_days integer, model_version varchar
        );
        insert into predictions.churn_prediction_history values
            ('a', date '2026-01-01', 0.9, 'high',   10, '1'),
            ('b', date '2026-01-01', 0.5, 'medium', 400, '1'),
            ('a', date '2026-01-08', 0.7, 'high',   17, '1'),
            ('a', date '2026-01-08', 0.2, 'low',    17, '2'),
            ('b', date '2026-01-08', 0.4, 'medium', 407, '2')
        """
    )
    con.execute(
        """
        create table features.int_customer_daily as
        select * from (values
            ('a', date '2026-01-03', 2, 10.0), ('a', date '2026-01-20', 1, 5.5),
            ('a', date '2026-02-01', 1, 4.0), ('b', date '2025-11-30', 3, 30.0)
        ) t(customer_id, activity_date, transactions, spend)
        """
    )
    con.execute(
        """
        create table raw.rejected_transactions as
        select * from (values
            ('f.csv', 1, 'x', 'bad', '1', 'unparseable timestamp', timestamp '2026-01-02 10:00'),
            ('f.csv', 2, 'y', 'bad', '1', 'unparseable timestamp', timestamp '2026-01-02 11:00'),
            ('g.csv', 7, '', '2026-01-03', '4', 'empty customer id', timestamp '2026-01-03 09:00')
        ) t(source, source_row, customer_id, transaction_ts, amount, reject_reason, rejected_at)
        """
    )
    return con


def test_trend_history_activity_and_rejections(con, tmp_path):
    written = console_data.write_tables(con, tmp_path, active_days=180)
    assert console_data.ATTRIBUTES not in written  # no attribute table: left out, not empty

    trend = pd.read_parquet(tmp_path / console_data.TREND)
    everyone = trend[trend["population"] == "all"]
    first = everyone[everyone["model_version"] == "1"].iloc[0]
    assert str(first["as_of_date"])[:10] == "2026-01-01"
    assert first["customers"] == 2 and first["high"] == 1 and first["medium"] == 1
    assert first["mean_probability"] == pytest.approx(0.7)
    assert first["expected_churners"] == pytest.approx(1.4)
    # Active means bought within 180 days: b (400 days) is left out.
    active = trend[trend["population"] == "active"]
    assert active["customers"].tolist() == [1, 1, 1]
    assert len(everyone) == 3  # each date and version its own row

    activity = pd.read_parquet(tmp_path / console_data.ACTIVITY)
    a = activity[activity["customer_id"] == "a"]
    assert a["month"].astype(str).tolist() == ["2026-01-01", "2026-02-01"]
    assert a["purchases"].tolist() == [3, 1] and a["spend"].tolist() == [15.5, 4.0]

    history = pd.read_parquet(tmp_path / console_data.HISTORY)
    assert history[history["customer_id"] == "a"]["model_version"].tolist() == ["1", "1", "2"]

    daily = pd.read_parquet(tmp_path / console_data.REJECTED_DAILY)
    assert daily.values.tolist() == [
        [date(2026, 1, 2), "unparseable timestamp", 2],
        [date(2026, 1, 3), "empty customer id", 1],
    ]
    examples = pd.read_parquet(tmp_path / console_data.REJECTED_EXAMPLES)
    assert examples["source_row"].tolist() == [7, 2, 1]  # by reason, the latest first


def test_examples_are_capped_per_reason(con, tmp_path):
    con.execute(
        "insert into raw.rejected_transactions select 'h.csv', i, 'z', 'bad', '1', "
        "'unparseable timestamp', timestamp '2026-01-04' + to_minutes(i) from range(20) t(i)"
    )
    console_data.write_tables(con, tmp_path, active_days=180)
    examples = pd.read_parquet(tmp_path / console_data.REJECTED_EXAMPLES)
    counts = examples["reject_reason"].value_counts()
    assert counts["unparseable timestamp"] == console_data.EXAMPLES_PER_REASON
    assert counts["empty customer id"] == 1


@pytest.mark.parametrize("family", ["logistic_regression", "random_forest"])
def test_contributions_written_in_batches_equal_those_written_at_once(family, tmp_path):
    """The population's one-hot shares centre a logistic model's explanations: batches must
    use the whole population's, and their rows must come out in the same order."""
    from ml.common import model_input
    from ml.inference.batch_scoring import SCORED_INPUTS_TABLE
    from ml.training import candidates
    from tests.unit.inference.test_contributions import frame

    x, y = frame(1500, 0)
    params = candidates.Hyperparameters(rf_n_estimators=10)
    model = candidates.fit(family, x, y, ["a", "b"], ["c"], params)
    rows, _ = frame(5000, 1)
    rows = model_input.model_input(rows, ["a", "b", "c"], {"c"})
    rows.insert(0, "customer_id", [f"c{i:05d}" for i in range(5000)][::-1])
    rows["model_version"], rows["as_of_date"] = "3", pd.Timestamp("2026-01-08")
    con = duckdb.connect()
    con.execute("create schema monitoring")
    con.execute(f"create table {SCORED_INPUTS_TABLE} as select * from rows")

    written = {}
    for batch in (2048, 10**6):  # three batches, one
        folder = tmp_path / str(batch)
        folder.mkdir()
        described = console_data.write_contributions(con, folder, model, batch)
        written[batch] = (described, pd.read_parquet(folder / console_data.CONTRIBUTIONS))
    (batched, in_batches), (whole, at_once) = written[2048], written[10**6]
    assert batched == whole
    assert len(at_once) == 5000 * 3 and at_once["customer_id"].is_monotonic_increasing
    pd.testing.assert_frame_equal(in_batches, at_once, rtol=1e-12)
