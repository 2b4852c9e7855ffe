"""The online API under hostile input: a schemathesis run over its own OpenAPI document finds
no server error, bodies and batches are bounded, and request data never becomes SQL."""

import shutil

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from app.api import MAX_BODY_BYTES, create_app
from ml.common.settings import Paths
from ml.features import online_store
from ml.inference.online_serving import MAX_BATCH


@pytest.fixture(scope="module")
def live_app(pipeline_home, tmp_path_factory):
    """The API on a copy of the built home, its model and online store loaded."""
    home = tmp_path_factory.mktemp("api") / "home"
    shutil.copytree(pipeline_home.home, home)
    app = create_app(Paths(home), refresh_seconds=60)
    with TestClient(app) as client:
        assert client.get("/health").json()["status"] == "ok"
        yield app


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=str)
def test_generated_requests_never_get_a_server_error(live_app, mode):
    """Valid and invalid requests generated from the service's own OpenAPI document, for
    every operation: the answer may be 200, 404, 413 or 422, never a 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", live_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/predict/batch", "/health", "/model"}
    seen: dict[int, int] = {}
    for operation in operations:
        if mode is schemathesis.GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # no parameters: there is nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case):
            response = case.call()
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            assert response.status_code < 500, (case.path, case.body, response.text)

        call()
    assert seen, "nothing was generated"


def test_known_ids_answer_and_hostile_ones_are_refused(live_app):
    with TestClient(live_app) as client:
        assert client.post("/predict", json={"customer_id": "C0000001"}).status_code == 200
        # The id contract is ingestion's: the same id, padded, answers.
        padded = client.post("/predict", json={"customer_id": " C0000001\t"})
        assert padded.status_code == 200
        assert padded.json()["customer_id"] == "C0000001"
        # Within the contract but unknown: looked up as a bound parameter, answered 404.
        for unknown in ("C0000001'; drop table x; --", "../../etc/passwd", "ü" * 3, "x" * 128):
            answer = client.post("/predict", json={"customer_id": unknown})
            assert answer.status_code == 404, unknown
        # Outside the contract (ingestion rejects these too): 422 with the reason.
        for refused, reason in (
            ("C1\x00", "control characters"),
            ("x" * 129, "longer than 128"),
            ("   ", "missing customer_id"),
        ):
            answer = client.post("/predict", json={"customer_id": refused})
            assert answer.status_code == 422, refused
            assert reason in answer.text
        for as_of in ("0001-01-01T00:00:00", "9999-12-31T23:59:59+14:00", "not a time"):
            answer = client.post("/predict", json={"customer_id": "C0000001", "as_of": as_of})
            assert answer.status_code in (200, 422), (as_of, answer.text)


def test_bodies_and_batches_are_bounded(live_app):
    with TestClient(live_app) as client:
        big = b'{"customer_id": "' + b"x" * MAX_BODY_BYTES + b'"}'
        assert client.post("/predict", content=big).status_code == 413
        streamed = client.post(  # no content-length: the limit holds while streaming too
            "/predict", content=iter([b'{"customer_ids": ["', b"a" * MAX_BODY_BYTES, b'"]}'])
        )
        assert streamed.status_code == 413
        too_many = {"customer_ids": [f"C{i:07d}" for i in range(MAX_BATCH + 1)]}
        assert client.post("/predict/batch", json=too_many).status_code == 422
        ok = {"customer_ids": ["C0000001"] * MAX_BATCH}
        assert client.post("/predict/batch", json=ok).status_code == 200


def test_ids_are_bound_as_parameters_never_spliced_into_sql(live_app):
    """Below the API's own validation (the CLI's `fti features online` has none), an id full
    of SQL is just an unknown id: it matches nothing and breaks nothing."""
    store = online_store.open_store(live_app.state.predictor.paths)
    try:
        stored = online_store.read_watermark(store)
        hostile = ["x' or '1'='1", 'x") or 1=1 --', "C0000001; drop table x"]
        found = online_store.lookup(store, stored, hostile + ["C0000001"])
    finally:
        store.close()
    assert found.missing == hostile and list(found.rows) == ["C0000001"]
