"""Monitoring on a built pipeline: the prediction history, the frozen reference, the report,
and the online service's health and skew measured from real API traffic."""

import json
from datetime import datetime, timedelta

import dagster as dg
import duckdb
import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from ml.common.settings import MODEL_NAME
from ml.monitoring import drift, report
from ml.monitoring.prediction_log import log_folder
from ml.registry import model_registry
from orchestration.cli import main
from orchestration.lib.resources import resources_for


def test_history_reference_and_report_after_the_first_run(built_home, capsys):
    with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
        latest, history, dates, versions = con.execute(
            """
            select (select count(*) from predictions.churn_predictions), count(*),
                   count(distinct as_of_date), count(distinct model_version)
            from predictions.churn_prediction_history
            """
        ).fetchone()
        reference = drift.load_reference(con, "1")
        scored = con.execute("select * from monitoring.scored_inputs limit 1").df()
    assert history == latest and dates == 1 and versions == 1
    # Every model input and the scores have a reference, binned or by category.
    assert set(reference) == set(scored.columns) - {
        "customer_id",
        "as_of_date",
        "model_version",
        "active",
    }
    assert all(abs(sum(p.shares) - 1) < 1e-9 for p in reference.values())
    assert reference[drift.PREDICTION].kind == drift.NUMERIC
    # ... and the same profile is an artifact of the version's MLflow run.
    client = model_registry.configure(built_home)
    run_id = client.get_model_version(MODEL_NAME, "1").run_id
    names = {a.path for a in client.list_artifacts(run_id, "evaluation")}
    assert f"evaluation/{drift.REFERENCE_ARTIFACT}" in names

    assert main(["monitor", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) >= {"drift", "realized", "estimated", "online", "retraining"}
    features = {r["feature"] for r in printed["drift"]}
    assert drift.PREDICTION in features and len(features) == len(reference)
    assert printed["realized"] == []  # the only scoring date is the last day of data
    assert [e["as_of_date"] for e in printed["estimated"]] == ["2025-12-30"]
    assert main(["status", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["monitoring"]
    assert summary["drift_as_of"] == "2025-12-30" and summary["realized_dates"] == 0


def test_scoring_the_same_date_again_replaces_its_history(copied_home):
    from orchestration.defs.inference.batch_predictions import churn_predictions

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [churn_predictions], instance=instance, resources=resources_for(copied_home)
        )
    assert result.success
    with duckdb.connect(str(copied_home.warehouse), read_only=True) as con:
        rows, distinct = con.execute(
            "select count(*), count(distinct (customer_id, as_of_date, model_version)) "
            "from predictions.churn_prediction_history"
        ).fetchone()
        customers = con.execute("select count(*) from predictions.churn_predictions").fetchone()
    assert rows == distinct == customers[0]


def test_online_health_and_skew_from_real_requests(copied_home):
    from orchestration.defs.monitoring.online_predictions import online_predictions
    from orchestration.defs.monitoring.report import online_health_asset

    with duckdb.connect(str(copied_home.warehouse), read_only=True) as con:
        as_of, ids = con.execute(
            """
            select max(as_of_date), list(customer_id order by customer_id)[1:25]
            from predictions.churn_predictions
            where customer_id not in (
                select customer_id from features.customer_attributes
                where valid_from >= date '2025-12-31')
            """
        ).fetchone()
    end_of_day = (datetime.combine(as_of, datetime.min.time()) + timedelta(days=1)).isoformat()
    with TestClient(create_app(copied_home)) as client:
        for customer in ids:
            answer = client.post("/predict", json={"customer_id": customer, "as_of": end_of_day})
            assert answer.status_code == 200
        assert client.post("/predict", json={"customer_id": "nobody"}).status_code == 404
        assert client.post("/predict", json={"customer_id": "nobody-2"}).status_code == 404
        assert client.post("/predict", json={"customer": 1}).status_code == 422
    resources = resources_for(copied_home)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [online_predictions, online_health_asset], instance=instance, resources=resources
        )
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"online_service_healthy": False, "online_matches_offline": True}
    with duckdb.connect(str(copied_home.warehouse)) as con:
        health = report.read_online(con)
        assert health["requests"] == 28 and health["answered"] == 25
        assert health["errors"] == {"404": 2, "422": 1}  # 3 of 28: over the 5% warning
        assert health["p50_ms"] > 0 and health["p99_ms"] >= health["p50_ms"]
        skew = health["skew"]
        assert skew["compared"] == 25 and skew["features"]
        assert set(skew["features"].values()) == {0.0}  # the store equals the warehouse
        assert skew["probability_gap"]["pairs"] == 25
        assert skew["probability_gap"]["max_abs"] < 1e-5  # online = batch at the same time

        assert skew["not_comparable"] == 0

    # A store that served a wrong value is caught: one more request, whose logged spend is
    # not what the warehouse holds.
    with TestClient(create_app(copied_home)) as client:
        answer = client.post("/predict", json={"customer_id": ids[0], "as_of": end_of_day})
        assert answer.status_code == 200
    (log,) = log_folder(copied_home).glob("*.jsonl")
    record = json.loads(log.read_text())
    record["features"]["customer_features__spend_90d"] = -1.0
    log.write_text(json.dumps(record) + "\n")
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [online_predictions, online_health_asset], instance=instance, resources=resources
        )
    with duckdb.connect(str(copied_home.warehouse), read_only=True) as con:
        skew = report.read_online(con)["skew"]
    assert skew["compared"] == 26
    assert skew["features"]["customer_features__spend_90d"] == pytest.approx(1 / 26, abs=1e-6)
    assert sum(share > 0 for share in skew["features"].values()) == 1

    # The next build replaced the served snapshot (later days arrived) before these logs
    # were loaded: the request is kept as not comparable, not compared with another day.
    with TestClient(create_app(copied_home)) as client:
        answer = client.post("/predict", json={"customer_id": ids[1], "as_of": end_of_day})
        assert answer.status_code == 200
    with duckdb.connect(str(copied_home.warehouse)) as con:
        con.execute("delete from features.customer_features where as_of_date = ?", [as_of])
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(
            [online_predictions, online_health_asset], instance=instance, resources=resources
        ).success
    with duckdb.connect(str(copied_home.warehouse), read_only=True) as con:
        skew = report.read_online(con)["skew"]
    assert (skew["compared"], skew["not_comparable"]) == (26, 1)
    assert skew["features"]["customer_features__spend_90d"] == pytest.approx(1 / 26, abs=1e-6)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["online_matches_offline"] is False
