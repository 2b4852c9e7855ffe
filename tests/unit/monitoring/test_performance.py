"""Realized and estimated performance in DuckDB against hand-computed values and scikit-learn."""

import datetime as dt
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from ml.monitoring import performance

D = dt.date(2024, 1, 1)


def _metrics(frame: pd.DataFrame) -> dict:
    con = duckdb.connect()
    con.execute("create table t as select * from frame")
    return con.execute(performance.metrics_sql("t")).df().iloc[0].to_dict()


def _frame(p, y) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "as_of_date": D,
            "model_version": "1",
            "customer_id": [f"c{i:03d}" for i in range(len(p))],
            "p": p,
            "y": y,
        }
    )


def test_hand_computed_metrics_with_a_tie():
    # Scores 0.9 (churned), 0.8 (stayed), 0.8 (churned), 0.1 (stayed).
    got = _metrics(_frame([0.9, 0.8, 0.8, 0.1], [1, 0, 1, 0]))
    # Pairs (churned, stayed): (0.9,0.8) win, (0.9,0.1) win, (0.8,0.8) half, (0.8,0.1) win.
    assert got["roc_auc"] == pytest.approx(3.5 / 4)
    # Thresholds 0.9: P=1, R=0.5; 0.8: P=2/3, R=1 -> AP = 0.5*1 + 0.5*2/3.
    assert got["pr_auc"] == pytest.approx(0.5 + 1 / 3)
    # Top decile of 4 customers is ceil(0.4) = 1 customer: the 0.9, who churned.
    assert got["precision_top_decile"] == 1.0 and got["recall_top_decile"] == 0.5
    assert got["brier"] == pytest.approx((0.01 + 0.64 + 0.04 + 0.01) / 4)
    assert (got["rows"], got["positives"]) == (4, 2)


def test_against_scikit_learn_on_random_scores_with_ties():
    rng = np.random.default_rng(9)
    p = np.round(rng.uniform(size=997), 2)  # rounded: many ties
    y = (rng.uniform(size=997) < p).astype(int)
    got = _metrics(_frame(p, y))
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, p), rel=1e-12)
    assert got["pr_auc"] == pytest.approx(average_precision_score(y, p), rel=1e-12)
    assert got["brier"] == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    top = np.lexsort((np.array([f"c{i:03d}" for i in range(997)]), -p))[: math.ceil(99.7)]
    assert got["precision_top_decile"] == pytest.approx(y[top].mean())
    assert got["recall_top_decile"] == pytest.approx(y[top].sum() / y.sum())


def _warehouse(history: pd.DataFrame, daily: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema predictions; create schema features")
    con.execute("create table predictions.churn_prediction_history as select * from history")
    con.execute("create table features.int_customer_daily as select * from daily")
    return con


def test_labels_only_once_the_horizon_has_passed():
    days = [D, D + dt.timedelta(days=10), D + dt.timedelta(days=40)]
    history = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"] * 3,
            "as_of_date": np.repeat(days, 4),
            "churn_probability": [0.9, 0.2, 0.6, 0.1] * 3,
            "recency_days": [100, 5, 20, 400] * 3,
            "model_version": "1",
        }
    )
    # Data ends on day 40: a 30-day horizon has passed for days 0 and 10, not for day 40.
    daily = pd.DataFrame(
        {
            "customer_id": ["b", "c", "b", "a"],
            "activity_date": [D + dt.timedelta(days=k) for k in (5, 30, 25, 40)],
        }
    )
    con = _warehouse(history, daily)
    got = performance.realized(con, horizon=30, active_days=180)
    assert list(got["as_of_date"].astype(str)) == ["2024-01-01", "2024-01-11"]
    first = got.iloc[0]
    # Day 0: b bought on day 5 and c on day 30 (the horizon's last day); a and d did not.
    assert first["positives"] == 2 and first["rows"] == 4
    assert first["roc_auc"] == pytest.approx(roc_auc_score([1, 0, 0, 1], [0.9, 0.2, 0.6, 0.1]))
    # Only a, b, c bought within 180 days: d (400 days) is not in the active population.
    assert first["active_rows"] == 3
    # Day 10, horizon (10, 40]: b (day 25), c (day 30) and a (day 40) bought; only d churned.
    assert got.iloc[1]["positives"] == 1
    estimate = performance.estimated(con, horizon=30, active_days=180)
    assert list(estimate["as_of_date"].astype(str)) == ["2024-02-10"]
    assert estimate.iloc[0]["precision_top_decile"] == pytest.approx(0.9)
    assert estimate.iloc[0]["recall_top_decile"] == pytest.approx(0.9 / 1.8)
    # Active (bought within 180 days): a, b, c; the top decile is a alone.
    assert estimate.iloc[0]["active_rows"] == 3
    assert estimate.iloc[0]["active_recall_top_decile"] == pytest.approx(0.9 / 1.7)
    assert first["estimated_active_precision_top_decile"] == pytest.approx(0.9)
    assert first["active_precision_top_decile"] == 1.0  # a churned
