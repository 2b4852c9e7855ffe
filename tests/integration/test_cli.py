"""`fti` as a user runs it: their own log, status as JSON, clear refusals."""

import json

import pandas as pd
import pytest

from tests.helpers import fti, said

pytestmark = pytest.mark.slow


def test_demo_on_a_users_own_log(users_own_log, tmp_path):
    run, home = users_own_log.run, users_own_log.home
    customers, broken = users_own_log.customers, users_own_log.broken
    assert run.returncode == 0, said(run)
    assert "champion model : churn v1" in run.stdout

    report = json.loads(fti("status", "--json", home=home).stdout)
    assert report["predictions"]["rows"] == customers
    assert report["predictions"]["as_of"].startswith("2015-12")
    assert report["rejected_rows"] == broken
    assert report["tables"]["raw.customers"] == 0
    assert 0.6 <= report["champion"]["metrics"]["roc_auc"] <= 0.97
    assert (home / "dagster" / "dagster.yaml").exists()
    assert (home / "mlflow" / "mlflow.db").exists()

    # The feature store on the user's data: online lookup and point-in-time retrieval.
    online = json.loads(fti("features", "online", "17", "no-such-id", "--json", home=home).stdout)
    assert online["missing"] == ["no-such-id"]
    assert online["watermark"]["customer_features"]["as_of"].startswith("2015-12")
    assert online["rows"]["17"]["customer_features__acquisition_channel"] == "unknown"
    # No attribute source: the attribute columns are there, and null.
    assert online["rows"]["17"]["customer_attributes__segment"] is None
    spine = tmp_path / "spine.csv"
    spine.write_text("customer_id,event_timestamp\n17,2015-06-01\n17,2013-01-01\n")
    out = tmp_path / "features.csv"
    run = fti("features", "historical", "--spine", str(spine), "--out", str(out), home=home)
    assert run.returncode == 0, run.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 2 and frame["customer_features__recency_days"].notna().tolist() == [
        True,
        False,  # before the customer's first purchase: nothing is known yet
    ]

    # The online API on the user's data: integer ids, no customer attributes.
    from fastapi.testclient import TestClient

    from app.api import create_app
    from ml.common.settings import Paths

    with TestClient(create_app(Paths(home.resolve()))) as api:
        answer = api.post("/predict", json={"customer_id": 17})
        assert answer.status_code == 200, answer.text
        assert answer.json()["customer_id"] == "17"
        assert 0.0 <= answer.json()["churn_probability"] <= 1.0
        assert api.post("/predict", json={"customer_id": "no-such-id"}).status_code == 404


def test_missing_column_is_refused_before_anything_changes(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,when,amount\n1,2024-01-01,3\n")
    home = tmp_path / "home"
    run = fti("demo", "--transactions", str(bad), home=home)
    assert run.returncode == 2
    assert "missing required column(s) transaction_ts" in run.stderr
    assert not (home / "warehouse.duckdb").exists()


def test_status_before_anything_is_built(tmp_path):
    run = fti("status", "--json", home=tmp_path / "empty")
    assert run.returncode == 0
    report = json.loads(run.stdout)
    assert report["champion"] is None and report["predictions"]["rows"] == 0
    run = fti("status", home=tmp_path / "empty")
    assert run.returncode == 0
    assert "nothing built in this home yet" in run.stdout
    assert "Next: `fti demo` (generated data)" in run.stdout and "None" not in run.stdout
