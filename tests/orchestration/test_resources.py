"""Assets take their stores as resources: a test hands them a temporary home, no environment
variables involved, and the asset writes there and nowhere else."""

import json
import os

import dagster as dg
import duckdb
import pytest

from ml.common.settings import Paths
from ml.monitoring.prediction_log import log_folder
from orchestration.defs.monitoring.online_predictions import online_predictions
from orchestration.lib.resources import FtiHome, ModelRegistry, Warehouse, resources_for


def _record(request_id: str, customer: str, probability: float) -> dict:
    return {
        "request_id": request_id,
        "logged_at": "2026-01-02 03:04:05",
        "customer_id": customer,
        "variant": "champion",
        "model_version": "3",
        "churn_probability": probability,
        "risk_band": "low",
        "latency_ms": 1.5,
        "features_as_of": {"customer_features": "2026-01-01"},
        "features": {"x": 1},
    }


def test_resources_for_one_home_point_every_store_inside_it(tmp_path):
    paths = Paths(tmp_path / "home")
    resources = resources_for(paths)
    assert resources["fti_home"].paths == paths
    assert resources["warehouse"].path == str(paths.warehouse)
    assert resources["registry"].home == str(paths.home)
    assert resources["dbt"].warehouse == str(paths.warehouse)


def test_dbt_builds_the_warehouse_its_resource_names(tmp_path, monkeypatch):
    """dagster-dbt starts dbt with a copy of the environment: the resource's warehouse is in
    it for that invocation only."""
    seen = {}

    def run(*args, env, **kwargs):
        seen["warehouse"] = env.get("FTI_WAREHOUSE")
        raise RuntimeError("stop before dbt starts")

    from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

    monkeypatch.setattr(DbtCliInvocation, "run", run)
    monkeypatch.setenv("FTI_WAREHOUSE", "/somewhere/else.duckdb")
    dbt = resources_for(Paths(tmp_path / "home"))["dbt"]
    with pytest.raises(RuntimeError, match="stop before dbt starts"):
        dbt.cli(["parse"])
    assert seen["warehouse"] == str(tmp_path / "home" / "warehouse.duckdb")
    assert os.environ["FTI_WAREHOUSE"] == "/somewhere/else.duckdb"


def test_an_asset_writes_only_to_the_home_it_is_given(tmp_path, monkeypatch):
    # The environment points somewhere else entirely: the asset must not look there.
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("FTI_HOME", str(elsewhere))
    monkeypatch.setenv("FTI_WAREHOUSE", str(elsewhere / "warehouse.duckdb"))
    paths = Paths(tmp_path / "home")
    folder = log_folder(paths)
    folder.mkdir(parents=True)
    lines = [_record("r1", "c1", 0.25), _record("r2", "c2", 0.75)]
    (folder / "part-1.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")

    resources = {
        "fti_home": FtiHome(home=str(paths.home)),
        "warehouse": Warehouse(path=str(paths.warehouse)),
        "registry": ModelRegistry(home=str(paths.home)),
    }
    result = dg.materialize([online_predictions], resources=resources)
    assert result.success
    metadata = result.asset_materializations_for_node("monitoring__online_predictions")[0].metadata
    assert metadata["rows_loaded"].value == 2 and metadata["files"].value == 1
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rows = con.execute(
            "select customer_id, churn_probability from monitoring.online_predictions "
            "order by customer_id"
        ).fetchall()
    assert rows == [("c1", 0.25), ("c2", 0.75)]
    assert not elsewhere.exists()
    assert os.environ["FTI_HOME"] == str(elsewhere)  # resources do not rewrite the environment
    assert os.listdir(folder / "loaded") == ["part-1.jsonl"]
