"""The dashboard's five pages in-process (Streamlit's AppTest) on the session's pipeline: each
renders its charts from what the run published, with the values the run computed."""

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from streamlit.testing.v1 import AppTest

from ml.common.settings import REPO_ROOT
from ml.inference import console_data, publication
from orchestration.runner import status
from tests.browser import held_warehouse

APP = REPO_ROOT / "app"
PAGES = ("overview", "customer", "model", "monitoring", "data_quality")


def page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(APP / "pages" / f"{name}.py"))
    at.query_params.update(query)
    return at.run(timeout=60)


def charts(at: AppTest) -> int:
    return len(at.get("vega_lite_chart"))


def test_every_page_renders_charts_without_exception(built_home):
    drawn = {}
    for name in PAGES:
        at = page(name)
        assert not at.exception, (name, [e.message for e in at.exception])
        drawn[name] = charts(at)
    # Overview: histogram, bands, trend of probability and of bands; Customer: drivers,
    # activity, history; Model: timeline, calibration, lift, slices; Monitoring: the PSI
    # heatmap, prediction drift, estimated performance; Data quality: rows per table (no row
    # was rejected, so no chart of rejections).
    assert drawn == {"overview": 4, "customer": 3, "model": 4, "monitoring": 3, "data_quality": 1}
    entry = AppTest.from_file(str(APP / "dashboard.py")).run(timeout=60)
    assert not entry.exception and entry.title[0].value == "Customer churn"


def test_overview_kpis_and_download(built_home):
    at = page("overview")
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {
        "Customers scored",
        "High risk",
        "Expected churners",
        "Mean churn probability",
    }
    table = at.dataframe[0].value
    assert 0 < len(table) <= 50
    assert table["churn_probability"].is_monotonic_decreasing
    assert (table["risk_band"] == "high").all()
    version = publication.read_manifest(built_home)["champion"]["version"]
    assert f"scored by model churn v{version}" in at.caption[0].value
    assert at.get("download_button")[0].proto.label == "Download as CSV"
    # One scoring date so far: no change to show, and the page says why.
    assert all(m.proto.delta == "" for m in at.metric)
    assert any("one scoring date so far" in i.value for i in at.info)

    active = int(metrics["Customers scored"].replace(",", ""))
    at.toggle[0].set_value(False).run(timeout=60)
    everyone = int({m.label: m.value for m in at.metric}["Customers scored"].replace(",", ""))
    assert everyone == 800 >= active


def test_customer_page_explains_the_score(built_home):
    predictions = publication.read_predictions(built_home)
    customer = predictions.iloc[len(predictions) // 2]
    at = page("customer", customer=customer["customer_id"])
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Churn probability"] == f"{customer['churn_probability']:.1%}"
    assert metrics["Risk band"] == customer["risk_band"]
    shares = at.dataframe[0].value
    assert 0 < len(shares) <= 10
    assert shares["contribution"].abs().is_monotonic_decreasing

    # The published shares add up to the published score, in the model's own unit.
    manifest = publication.read_manifest(built_home)
    explained = manifest["console"]["contributions"]
    path = publication.console_file(built_home, console_data.CONTRIBUTIONS)
    every = pd.read_parquet(path)
    total = every.groupby("customer_id")["contribution"].sum() + explained["base"]
    scores = predictions.set_index("customer_id")["churn_probability"].loc[total.index]
    score = logit(scores) if explained["unit"] == "log-odds" else scores
    # the published probability is rounded to 6 places
    np.testing.assert_allclose(total.to_numpy(), np.asarray(score), atol=2e-4)

    unknown = page("customer", customer="no-such-customer")
    assert not unknown.exception
    assert "No customer `no-such-customer` was scored" in unknown.warning[0].value


def test_model_page_shows_the_registry(built_home):
    at = page("model")
    versions = at.dataframe[0].value
    assert versions["version"].tolist() == [1]
    assert versions["aliases"].tolist() == ["champion"] and versions["gate"].tolist() == [
        "promoted"
    ]
    champion = publication.read_manifest(built_home)["champion"]
    assert {m.label: m.value for m in at.metric}["Holdout ROC AUC"] == (
        f"{champion['metrics']['roc_auc']:.3f}"
    )
    assert len(at.get("image")) == 1  # the ROC/PR curves logged to MLflow


def test_monitoring_and_data_quality_pages(built_home):
    report = json.loads((built_home.published / "monitoring.json").read_text())
    at = page("monitoring")
    assert "No retraining request is open." in at.success[0].value
    assert any("Realized performance" in i.value for i in at.info)  # no outcomes yet
    assert report["drift"]

    at = page("data_quality")
    counts = {m.label: int(m.value) for m in at.metric}
    tests = json.loads((built_home.published / "checks" / "dbt.json").read_text())["checks"]
    assert counts["pass"] == len(tests) > 20 and counts["fail"] == counts["error"] == 0
    assert "checks passed" in at.success[0].value
    assert "No input row was rejected" in at.success[1].value
    freshness = at.dataframe[0].value
    assert freshness["published"].str.contains("feature store").any()


def test_pages_before_anything_is_published(fti_home):
    for name in PAGES:
        at = page(name)
        assert not at.exception
        assert "Nothing is published yet" in at.info[0].value


def test_dashboard_and_status_work_while_a_run_holds_the_warehouse(built_home):
    """Another process holding the DuckDB file for writing locks everyone else out of it; the
    readers only touch published files, so they do not notice."""
    with held_warehouse(built_home.warehouse):
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(built_home.warehouse), read_only=True)
        for name in PAGES:
            at = page(name)
            assert not at.exception, name
        assert status(built_home)["predictions"]["rows"] == 800
