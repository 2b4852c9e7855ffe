"""What training reads of the labeled set: everything under the budget (the split is then the
one of the whole table), a reproducible date-stratified sample above it."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml.training import trainer, training_rows
from tests.unit.training.test_model_selection import weekly

# 8 weekly dates; 2 held out (dates 6 and 7) and a 14-day purge: training ends at date 4.
DATES, PER_DATE, HOLDOUT, HORIZON = 8, 2000, 2, 14


@pytest.fixture
def con():
    with duckdb.connect() as con:
        con.register("labeled", weekly(DATES, PER_DATE, seed=3))
        con.execute("create schema training")
        con.execute("create table training.training_set as select * from labeled")
        yield con


def _read(con, train_max_rows, holdout_max_rows):
    return training_rows.read(
        con, "training.training_set", HOLDOUT, HORIZON, train_max_rows, holdout_max_rows
    )


def test_under_the_budget_the_split_is_that_of_the_whole_table(con):
    whole = con.execute(
        "select * from training.training_set order by event_timestamp, customer_id"
    ).df()
    frame, sampling = _read(con, 10**6, 10**6)
    assert sampling.params() == {
        "training_rows_available": 5 * PER_DATE,
        "training_sample_rate": 1.0,
        "holdout_rows_available": 2 * PER_DATE,
        "holdout_sample_rate": 1.0,
    }
    # The purged date (5) is not read; the split is unchanged by it.
    assert len(frame) == 7 * PER_DATE
    ours, reference = (trainer.time_split(f, HOLDOUT, HORIZON) for f in (frame, whole))
    pd.testing.assert_frame_equal(ours.train, reference.train)
    pd.testing.assert_frame_equal(ours.holdout, reference.holdout)
    assert ours.train_start == reference.train_start
    assert ours.holdout_start == reference.holdout_start


def test_above_the_budget_each_date_keeps_its_share(con):
    frame, sampling = _read(con, 2_000, 1_000)
    assert sampling.train_rate == pytest.approx(2_000 / (5 * PER_DATE))
    assert sampling.holdout_rate == pytest.approx(1_000 / (2 * PER_DATE))
    per_date = frame.groupby("event_timestamp").size()
    dates = pd.date_range("2024-01-01", periods=DATES, freq="7D")
    assert list(per_date.index) == [*dates[:5], *dates[6:]]
    # Bernoulli per row: 400 of 2,000 expected per training date (sd 17.9), 500 per holdout
    # date (sd 22.4); four standard deviations.
    assert np.all(np.abs(per_date[dates[:5]] - 400) < 72)
    assert np.all(np.abs(per_date[dates[6:]] - 500) < 90)
    # A sample, not a selection: the churn rate is the table's.
    whole_rate = con.execute("select avg(churned) from training.training_set").fetchall()[0][0]
    assert frame["churned"].mean() == pytest.approx(whole_rate, abs=0.03)
    # The same table gives the same sample, in the same order.
    again, _ = _read(con, 2_000, 1_000)
    pd.testing.assert_frame_equal(frame, again)
    assert frame.equals(frame.sort_values(["event_timestamp", "customer_id"]))


def test_too_few_dates_are_read_whole_for_the_split_to_refuse(con):
    frame, sampling = training_rows.read(con, "training.training_set", DATES, HORIZON, 10, 10)
    assert len(frame) == DATES * PER_DATE
    assert (sampling.train_rate, sampling.holdout_rate) == (1.0, 1.0)
    with pytest.raises(ValueError, match="labeled snapshot dates"):
        trainer.time_split(frame, DATES, HORIZON)
