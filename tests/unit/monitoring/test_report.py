"""Retraining requests: raised once per streak of scoring dates past a threshold, answered by
the next trained version; and the report's shape."""

import datetime as dt

import duckdb
import pandas as pd

from ml.monitoring import drift, report

D = dt.date(2026, 1, 5)


def _measure(con, day: dt.date, alerts: int, on_scores: bool = False) -> None:
    features = [f"f{i}" for i in range(5)] + [drift.PREDICTION]
    statuses = ["alert" if i < alerts else "ok" for i in range(5)]
    statuses.append("alert" if on_scores else "ok")
    measured = pd.DataFrame(
        {
            "feature": features,
            "psi": [0.5 if s == "alert" else 0.01 for s in statuses],
            "js": 0.1,
            "ks": 0.1,
            "null_rate": 0.0,
            "null_rate_change": 0.0,
            "status": statuses,
        }
    )
    report.record_drift(con, measured, day, "1")


def test_a_request_per_streak_answered_by_the_next_version():
    con = duckdb.connect()
    _measure(con, D, alerts=1)  # one feature alone does not ask
    assert report.update_requests(con, {}) is None
    _measure(con, D + dt.timedelta(days=7), alerts=2)
    opened = report.update_requests(con, {})
    assert opened["as_of_date"] == "2026-01-12" and "f0 (PSI 0.50)" in opened["reason"]
    _measure(con, D + dt.timedelta(days=14), alerts=3)  # the same streak: no second request
    assert report.update_requests(con, {}) == opened
    assert report.answer_requests(con, "2") == 1
    _measure(con, D + dt.timedelta(days=21), alerts=3)  # still the streak, answered: quiet
    assert report.update_requests(con, {}) is None
    _measure(con, D + dt.timedelta(days=28), alerts=0)  # the streak ends ...
    assert report.update_requests(con, {}) is None
    _measure(con, D + dt.timedelta(days=35), alerts=0, on_scores=True)  # ... a new one begins
    again = report.update_requests(con, {})
    assert again["as_of_date"] == "2026-02-09" and "prediction" in again["reason"]
    requests = con.execute(f"select count(*) from {report.REQUESTS_TABLE}").fetchone()[0]
    assert requests == 2


def test_measuring_a_date_again_replaces_its_rows():
    con = duckdb.connect()
    _measure(con, D, alerts=1)
    _measure(con, D, alerts=2)
    rows = con.execute(f"select count(*) from {drift.DRIFT_TABLE}").fetchone()[0]
    assert rows == 6


def test_realized_performance_below_the_holdout_asks_for_retraining():
    con = duckdb.connect()
    _measure(con, D, alerts=0)
    realized = pd.DataFrame(
        {"as_of_date": [D], "model_version": ["1"], "active_roc_auc": [0.80], "roc_auc": [0.9]}
    )
    report.replace_table(con, report.REALIZED_TABLE, realized)
    assert report.update_requests(con, {"1": 0.84}) is None  # within 0.05 of the holdout
    opened = report.update_requests(con, {"1": 0.86})
    assert "realized ROC AUC 0.800" in opened["reason"]


def test_report_shape_and_status_summary():
    con = duckdb.connect()
    _measure(con, D, alerts=2)
    request = report.update_requests(con, {})
    built = report.build(con, {"requests": 0}, request)
    assert set(built) >= {"drift", "realized", "estimated", "online", "retraining"}
    assert built["drift"][0]["as_of_date"] == "2026-01-05"
    assert set(built["drift"][0]) >= {"feature", "psi", "js", "ks", "null_rate_change", "status"}
    assert built["retraining"]["requested"] is True
    summary = report.summary(built)
    assert summary["drift_status"] == "alert" and summary["drift_alerts"] == 2
