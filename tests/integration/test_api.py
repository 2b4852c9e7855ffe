"""The online prediction API: contract, errors, parity with batch scoring, hot reload."""

import threading

import duckdb
import pytest
from fastapi.testclient import TestClient

from app.api import create_app
from ml.common import model_input
from ml.common.settings import MODEL_NAME
from ml.common.warehouse import connect
from ml.features import on_demand, online_store
from ml.features.dbt_manifest import load_manifest
from ml.features.views import feature_views
from ml.registry import model_registry
from ml.training.model_gate import decide


@pytest.fixture
def client(copied_home):
    with TestClient(create_app(copied_home, refresh_seconds=0.1)) as c:
        yield c


def batch_predictions(paths) -> dict[str, tuple[float, str]]:
    """Batch scores of customers whose features online are those of the batch's as-of time:
    the online store holds the latest known values, so a customer whose attributes changed
    after the last snapshot day (the CRM knows of a change on 2025-12-31) is scored on the
    newer value online; those are left out."""
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rows = con.execute(
            """
            select customer_id, churn_probability, model_version
            from predictions.churn_predictions
            where customer_id not in (
                select customer_id from features.customer_attributes
                where valid_from >= as_of_date + interval 1 day
            )
            """.replace("as_of_date", "(select max(as_of_date) from predictions.churn_predictions)")
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def reregister_first(paths, pr_auc: float):
    """Version 1's model registered again as a new version, with version 1's feature tags;
    the gate decides on ``pr_auc`` against a baseline of 0.5 (promoted above it)."""
    mlflow = model_registry.configure(paths)
    first = mlflow.get_model_version(MODEL_NAME, "1")
    model = model_registry.load_version(mlflow, "1")
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rows = con.execute("select * from training.training_set limit 5").df()
    rows = on_demand.add(rows, on_demand.end_of_day(rows["event_timestamp"]))
    columns = model_input.input_columns(model)
    sample = model_input.model_input(rows, columns, model_input.categorical_columns(model))
    feature_tags = {k: v for k, v in first.tags.items() if k.startswith("feature_view.")}
    decision = decide(pr_auc, 0.5, None)
    return model_registry.log_and_register(
        mlflow, model, sample, {}, {"pr_auc": pr_auc}, feature_tags, decision
    )


def test_predict_matches_batch_scoring(client, copied_home):
    batch = batch_predictions(copied_home)
    ids = sorted(batch)[:25]
    # Batch scores as of the end of the last snapshot day; ask the API for the same time.
    as_of = "2025-12-31T00:00:00"
    for customer in ids[:5]:
        response = client.post("/predict", json={"customer_id": customer, "as_of": as_of})
        assert response.status_code == 200, response.text
        body = response.json()
        # The same model on the same features as of the same snapshot: the same probability.
        assert (body["churn_probability"], body["model_version"]) == batch[customer]
        assert body["customer_id"] == customer
        assert body["risk_band"] in {"low", "medium", "high"}
        assert body["variant"] == "champion"
        assert set(body["feature_versions"]) == {"customer_features", "customer_attributes"}
        assert body["features_as_of"]["customer_features"] == "2025-12-30"
        assert len(body["request_id"]) == 32
    response = client.post("/predict/batch", json={"customer_ids": ids, "as_of": as_of})
    assert response.status_code == 200
    got = [(p["customer_id"], p["churn_probability"]) for p in response.json()["predictions"]]
    assert got == [(i, batch[i][0]) for i in ids]
    assert len({p["request_id"] for p in response.json()["predictions"]}) == len(ids)
    # The on-demand feature follows the request's time: 90 days later, with no purchase in
    # between, the same customers look more likely to have left.
    later = client.post(
        "/predict/batch", json={"customer_ids": ids, "as_of": "2026-03-31T00:00:00Z"}
    ).json()["predictions"]
    assert [p["as_of"] for p in later] == ["2026-03-31T00:00:00"] * len(ids)
    assert sum(p["churn_probability"] for p in later) > sum(batch[i][0] for i in ids)


def test_errors(client):
    unknown = client.post("/predict", json={"customer_id": "C9999999"})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "unknown customer id(s): C9999999"}
    partly = client.post("/predict/batch", json={"customer_ids": ["C0000001", "nobody"]})
    assert partly.status_code == 404 and "nobody" in partly.json()["detail"]
    # An id within the contract is looked up as a bound parameter, never spliced into SQL.
    sql = client.post("/predict", json={"customer_id": "1' or '1'='1"})
    assert sql.status_code == 404
    for body in (
        {},
        {"customer_id": None},
        {"customer_id": ""},
        {"customer_id": "x" * 129},
        {"customer_id": "C0000001\x07"},
        {"customer_id": 1.5},
        {"customer_id": "C0000001", "extra": 1},
        {"customer_ids": []},
        {"customer_ids": [f"C{i:07d}" for i in range(101)]},
    ):
        path = "/predict/batch" if "customer_ids" in body else "/predict"
        assert client.post(path, json=body).status_code == 422, body
    assert client.post("/predict", content=b"not json").status_code == 422
    # Before the day of the features held (2025-12-30): they could not have been known then.
    early = client.post("/predict", json={"customer_id": "C0000001", "as_of": "2025-12-29"})
    assert early.status_code == 422
    assert "is before the features the online store holds" in early.json()["detail"]
    assert client.get("/health").json()["status"] == "ok"
    model = client.get("/model").json()
    assert model["version"] == "1"
    # The on-demand feature replaces the snapshot's frozen recency as a model input.
    assert "on_demand__days_since_last_purchase" in model["features"]
    assert "customer_features__recency_days" not in model["features"]
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/predict", "/predict/batch"}


def test_nothing_to_serve_is_503_saying_what_to_run(fti_home):
    with TestClient(create_app(fti_home)) as empty:
        response = empty.post("/predict", json={"customer_id": "C0000001"})
        assert response.status_code == 503
        assert "fti demo" in response.json()["detail"]
        assert empty.get("/health").json()["status"] == "unavailable"
        assert empty.get("/model").status_code == 503


def test_new_champion_and_refreshed_store_are_served_without_restart(client, copied_home):
    mlflow = model_registry.configure(copied_home)
    assert client.get("/model").json()["version"] == "1"
    failures, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            response = client.post("/predict", json={"customer_id": "C0000001"})
            if response.status_code != 200:
                failures.append(response.text)

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        # A new version (the champion's own model, re-registered) is promoted...
        new = reregister_first(copied_home, pr_auc=0.9)
        assert model_registry.champion_version(mlflow) == new.version == "2"
        served = _wait_for(client, lambda: client.get("/model").json()["version"] == "2")
        assert served
        # ...and the online store is rematerialized (a new file swapped in).
        before = online_store.read_watermark(online_store.open_store(copied_home))
        with connect(copied_home.warehouse) as con:
            online_store.materialize(copied_home, con, feature_views(load_manifest()))
        after = online_store.read_watermark(online_store.open_store(copied_home))
        assert (
            after["customer_features@1"]["materialized_at"]
            >= (before["customer_features@1"]["materialized_at"])
        )
        response = client.post("/predict", json={"customer_id": "C0000001"})
        assert response.json()["model_version"] == "2"
    finally:
        stop.set()
        worker.join()
    assert failures == []


def _wait_for(client, condition, seconds: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_challenger_share_and_prediction_logs_loaded_by_dagster(copied_home):
    import dagster as dg

    from ml.monitoring.prediction_log import log_folder
    from orchestration.defs.monitoring.online_predictions import online_predictions
    from orchestration.lib.resources import resources_for

    # A second version that the gate keeps out: it becomes the challenger.
    rejected = reregister_first(copied_home, pr_auc=0.1)
    ids = sorted(batch_predictions(copied_home))[:40]
    with TestClient(create_app(copied_home, challenger_share=0.5)) as client:
        assert client.get("/model").json()["challenger"]["version"] == rejected.version
        answers = client.post("/predict/batch", json={"customer_ids": ids}).json()["predictions"]
        single = client.post("/predict", json={"customer_id": ids[0]}).json()
    variants = {p["customer_id"]: p["variant"] for p in answers}
    assert set(variants.values()) == {"champion", "challenger"}  # 40 ids, half each way
    assert all(
        p["model_version"] == ("1" if p["variant"] == "champion" else rejected.version)
        for p in answers
    )
    assert single["variant"] == variants[ids[0]]  # a customer always meets the same variant

    # The logs were written when the app stopped; Dagster loads them, once.
    assert list(log_folder(copied_home).glob("*.jsonl"))
    with dg.DagsterInstance.get() as instance:
        resources = resources_for(copied_home)
        assert dg.materialize([online_predictions], instance=instance, resources=resources).success
        assert dg.materialize([online_predictions], instance=instance, resources=resources).success
    with duckdb.connect(str(copied_home.warehouse), read_only=True) as con:
        logged = con.execute(
            "select customer_id, variant, model_version, churn_probability, "
            "features->>'customer_features__recency_days' is not null "
            "from monitoring.online_predictions order by logged_at, customer_id"
        ).fetchall()
    assert len(logged) == len(ids) + 1
    by_id = {p["customer_id"]: p for p in answers}
    for customer, variant, version, probability, has_features in logged:
        assert has_features
        assert (variant, version) == (by_id[customer]["variant"], by_id[customer]["model_version"])
        assert probability == by_id[customer]["churn_probability"]
