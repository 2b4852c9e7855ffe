"""The loop closing by itself: a log that goes on past its end, with a drift injected, runs
through the daily path and through `fti update` month by month; monitoring judges each
scoring date once its labels exist, flags the drift, and asks for retraining."""

import json

import duckdb
import pandas as pd
import pytest

from ml.common.settings import REPO_ROOT, Paths
from ml.inference import publication
from ml.ingestion.generator import DAYS, START, continuation, generate
from ml.monitoring import report
from tests.browser import held_warehouse, served_dashboard, visit_pages
from tests.helpers import fti, light_training_file, said

pytestmark = pytest.mark.slow

HORIZON = 90


def _realized_dates_expected(history_dates: list[str], data_end: str) -> list[str]:
    end = pd.Timestamp(data_end)
    return [d for d in history_dates if pd.Timestamp(d) + pd.Timedelta(days=HORIZON) <= end]


def _scoring_dates(home) -> tuple[list[str], str]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        dates = [
            str(r[0])
            for r in con.execute(
                "select distinct as_of_date from predictions.churn_prediction_history order by 1"
            ).fetchall()
        ]
        end = str(
            con.execute("select max(activity_date) from features.int_customer_daily").fetchone()[0]
        )
    return dates, end


def test_simulated_days_with_drift_through_the_daily_path(copied_home, tmp_path):
    """The documented scenario on the session's pipeline (800 customers, seed 11): 120 more
    days in runs of 30, baskets 2.5x from day 40."""
    paths = copied_home
    home = paths.home
    # Online traffic before the days go on: the runs load its logs and measure the service.
    from fastapi.testclient import TestClient

    from app.api import create_app

    ids = publication.read_predictions(paths)["customer_id"].head(60).tolist()
    with TestClient(create_app(paths)) as api:
        for customer in ids:
            assert api.post("/predict", json={"customer_id": customer}).status_code == 200
        assert api.post("/predict", json={"customer_id": "no-such-id"}).status_code == 404
    run = fti(
        "simulate",
        "--customers",
        "800",
        "--seed",
        "11",
        "--days",
        "120",
        "--step",
        "30",
        "--drift-from",
        "40",
        "--spend-scale",
        "2.5",
        "--training-config",
        str(light_training_file(tmp_path)),
        home=home,
    )
    assert run.returncode == 0, said(run)
    assert "RETRAINING REQUESTED" in run.stdout and "retrained (" in run.stdout

    monitoring = json.loads(fti("monitor", "--json", home=home).stdout)
    dates, end = _scoring_dates(home)
    assert len(dates) == 5 and end == str((START + pd.Timedelta(days=DAYS + 119)).date())
    realized = sorted({r["as_of_date"] for r in monitoring["realized"]})
    assert realized == _realized_dates_expected(dates, end) and len(realized) == 2
    assert all(r["rows"] > 700 and 0.5 < r["roc_auc"] <= 1 for r in monitoring["realized"])
    estimated = {r["as_of_date"] for r in monitoring["estimated"]}
    assert estimated == set(dates) - set(realized)
    # The drift: spending inputs alert after day 40 and not before it.
    drift = pd.DataFrame(monitoring["drift"])
    spend = drift[drift["feature"].str.contains("spend|basket")]
    before = spend[spend["as_of_date"] < "2026-02-09"]
    after = spend[spend["as_of_date"] >= "2026-03-30"]
    assert (before["status"] != "alert").all()
    assert (after.groupby("as_of_date")["status"].apply(lambda s: (s == "alert").sum()) >= 1).all()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        requests = con.execute(
            f"select as_of_date, reason, answered_by_version from {report.REQUESTS_TABLE}"
        ).fetchall()
    assert requests and all(str(r[0]) >= "2026-02-09" for r in requests)  # the drift began
    assert requests[0][2] is not None  # answered by the version trained for it

    # The operator's console on this history, in a real browser, while another process holds
    # the warehouse as a run would; the README's screenshots are these.
    with held_warehouse(home / "warehouse.duckdb"), served_dashboard(home) as url:
        pages = visit_pages(url, REPO_ROOT / "docs" / "screenshots")
    assert_pages_drawn(pages)
    # Realized performance joined the estimates, and the online service has its charts.
    assert pages["monitoring"]["drawn"] >= 7
    online = monitoring["online"]
    assert online["requests"] == 61 and online["errors"] == {"404": 1}
    # Compared when the first run loaded the logs, before its build moved the snapshots on.
    assert online["skew"]["compared"] == 60 and online["skew"]["not_comparable"] == 0
    assert max(online["skew"]["features"].values()) == 0.0


def assert_pages_drawn(pages: dict) -> None:
    """Every page rendered in Chromium with its charts drawn and no exception."""
    least = {"overview": 4, "customer": 3, "model": 4, "monitoring": 3, "data_quality": 1}
    for name, seen in pages.items():
        assert not seen["exceptions"] and not seen["errors"], (name, seen)
        assert seen["charts"] == seen["drawn"] >= least[name], (name, seen)
    assert pages["model"]["images"] == 1


def test_users_own_log_in_monthly_files_through_fti_update(tmp_path):
    """Integer ids, no attributes; loaded once up to 2025-12-30, then month by month with
    baskets 2.5x from March 2026: realized performance exactly for the scoring dates whose
    horizon has passed, and the drift flagged with a retraining request."""
    base = generate(1200, seed=5).transactions
    more = continuation(1200, seed=5, days=150, drift_from=60, spend_scale=2.5).transactions

    def users(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": frame["customer_id"].str[1:].astype(int),
                "transaction_ts": frame["transaction_ts"],
                "amount": frame["amount"],
            }
        )

    users(base).to_csv(tmp_path / "history.csv", index=False)
    home = tmp_path / "home"
    light = ["--training-config", str(light_training_file(tmp_path))]
    run = fti("demo", "--transactions", str(tmp_path / "history.csv"), *light, home=home)
    assert run.returncode == 0, said(run)
    months = users(more).groupby(more["transaction_ts"].dt.to_period("M"), sort=True)
    retrained_for_request = False
    raised = []
    for month, rows in months:
        path = tmp_path / f"{month}.csv"
        rows.to_csv(path, index=False)
        run = fti("update", "--transactions", str(path), *light, home=home)
        assert run.returncode == 0, said(run)
        retrained_for_request |= "training a new version (retraining was requested" in run.stdout
        state = report.read(Paths(home.resolve()))  # what `fti monitor --json` prints
        if state["retraining"]["requested"]:
            raised.append((str(month), state["retraining"]["reason"]))

    monitoring = json.loads(fti("monitor", "--json", home=home).stdout)
    dates, end = _scoring_dates(home)
    realized = [r["as_of_date"] for r in monitoring["realized"]]
    assert sorted(set(realized)) == _realized_dates_expected(dates, end)
    assert len(set(realized)) >= 2
    assert not set(realized) & {r["as_of_date"] for r in monitoring["estimated"]}
    # The drift came with the March file: a request was raised then or after, naming spending
    # inputs, and the next update trained a new version for it.
    assert raised and min(month for month, _ in raised) >= "2026-03"
    assert any("spend" in reason or "basket" in reason for _, reason in raised)
    assert retrained_for_request
    status = json.loads(fti("status", "--json", home=home).stdout)
    assert status["monitoring"]["realized_dates"] == len(realized)

    # The console on a user's own log (integer ids, no attributes): every page draws.
    with served_dashboard(home) as url:
        pages = visit_pages(url)
    assert_pages_drawn(pages)
