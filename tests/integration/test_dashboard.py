import subprocess
import sys

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from ml.common.settings import REPO_ROOT
from ml.inference import publication
from orchestration.runner import status

APP = str(REPO_ROOT / "app" / "dashboard.py")


def test_dashboard_shows_kpis_risk_and_model(built_home):
    at = AppTest.from_file(APP).run(timeout=60)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {
        "Customers scored",
        "High risk",
        "Expected churners",
        "Mean churn probability",
    }
    subheaders = [s.value for s in at.subheader]
    assert "Customers most at risk" in subheaders and "Champion model" in subheaders
    table = at.dataframe[0].value
    assert 0 < len(table) <= 50
    assert table["churn_probability"].is_monotonic_decreasing
    assert (table["risk_band"] == "high").all()
    version = publication.read_manifest(built_home)["champion"]["version"]
    assert f"scored by model churn v{version}" in at.caption[0].value

    # All customers, not only the recently active: at least as many are counted.
    active = int(metrics["Customers scored"].replace(",", ""))
    at.toggle[0].set_value(False).run(timeout=60)
    everyone = int({m.label: m.value for m in at.metric}["Customers scored"].replace(",", ""))
    assert everyone == 800 >= active


def test_dashboard_before_anything_is_published(fti_home):
    at = AppTest.from_file(APP).run(timeout=60)
    assert not at.exception
    assert "Nothing is published yet" in at.info[0].value


def test_dashboard_and_status_work_while_a_run_holds_the_warehouse(built_home):
    """Another process holding the DuckDB file for writing locks everyone else out of it; the
    readers only touch published snapshots, so they do not notice."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(120)",
            str(built_home.warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(built_home.warehouse), read_only=True)
        at = AppTest.from_file(APP).run(timeout=60)
        assert not at.exception
        assert {m.label for m in at.metric} >= {"Customers scored"}
        assert status(built_home)["predictions"]["rows"] == 800
    finally:
        holder.kill()
        holder.wait()
