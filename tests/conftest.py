"""Shared fixtures: a private FTI_HOME per test, the dbt manifest, one small pipeline run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml.common.settings import DBT_PROJECT_DIR, Paths

ENV_VARS = ("FTI_HOME", "FTI_WAREHOUSE", "MLFLOW_TRACKING_URI", "DAGSTER_HOME")
BIN = Path(sys.executable).parent
# One family, one validation fold: for tests about data flow, not about the model.
LIGHT_TRAINING = {"candidates": ["logistic_regression"], "cv_folds": 1}


def _point_env_at(home: Path, mp: pytest.MonkeyPatch) -> Paths:
    paths = Paths(home.resolve())
    mp.setenv("FTI_HOME", str(paths.home))
    mp.setenv("FTI_WAREHOUSE", str(paths.warehouse))
    mp.setenv("MLFLOW_TRACKING_URI", paths.tracking_uri)
    mp.setenv("DAGSTER_HOME", str(paths.dagster_home))
    mp.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return paths


@pytest.fixture
def fti_home(tmp_path, monkeypatch) -> Paths:
    """An empty FTI_HOME for one test; the environment is restored afterwards."""
    return _point_env_at(tmp_path / "fti", monkeypatch)


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory) -> Path:
    from orchestration.project import prepare

    with pytest.MonkeyPatch.context() as mp:
        _point_env_at(tmp_path_factory.mktemp("parse"), mp)
        project = prepare()
    return project.manifest_path


def dbt_build(warehouse: Path, *extra: str) -> subprocess.CompletedProcess:
    """`dbt build` as an analytics engineer runs it, against a given warehouse file."""
    env = {
        **os.environ,
        "FTI_WAREHOUSE": str(warehouse),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        [str(BIN / "dbt"), "build", "--quiet", *extra],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="session")
def pipeline_home(tmp_path_factory, dbt_manifest) -> Paths:
    """The whole Dagster job once on small generated data; tests read what it built."""
    from orchestration.cli import run_pipeline

    home = tmp_path_factory.mktemp("pipeline")
    with pytest.MonkeyPatch.context() as mp:
        paths = _point_env_at(home, mp)
        ok, detail = run_pipeline(customers=800, seed=11)
        assert ok, detail
    return paths


@pytest.fixture
def built_home(pipeline_home, monkeypatch) -> Paths:
    """The session's pipeline home, with the environment pointing at it for this test."""
    return _point_env_at(pipeline_home.home, monkeypatch)
