"""Shared fixtures: a private FTI_HOME per test, the dbt manifest, one small pipeline run."""

import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from ml.common.settings import Paths
from tests.helpers import content_fingerprints, fti, light_training_file, point_env_at, user_log

# What the session's pipeline built, fingerprinted before any test could change it.
FIRST_BUILD = pytest.StashKey[dict]()


@pytest.fixture
def fti_home(tmp_path, monkeypatch) -> Paths:
    """An empty FTI_HOME for one test; the environment is restored afterwards."""
    return point_env_at(tmp_path / "fti", monkeypatch)


def pytest_configure(config):
    """With several workers (`make test` runs two, pytest-xdist), parse the dbt project once,
    in the process that hands them their tests, before they start. The manifest
    (``DBT_PARSE_DIR``) is shared by every process of the suite and read while Dagster loads
    its definitions: each worker then finds it up to date (``ensure_manifest``) rather than
    every one parsing it again. A run in one process parses when a test first needs it."""
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    from orchestration.lib.dbt_project import ensure_manifest

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as mp:
        point_env_at(Path(folder), mp)
        ensure_manifest()


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """The parsed project's manifest, for tests that load the Dagster definitions."""
    from orchestration.lib.dbt_project import ensure_manifest

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as mp:
        point_env_at(Path(folder), mp)
        return ensure_manifest().manifest_path


@pytest.fixture(scope="session")
def pipeline_home(request, tmp_path_factory, dbt_manifest) -> Paths:
    """The whole Dagster job once on small generated data; tests read what it built."""
    from orchestration.runner import run_pipeline

    home = tmp_path_factory.mktemp("pipeline")
    with pytest.MonkeyPatch.context() as mp:
        paths = point_env_at(home, mp)
        ok, detail = run_pipeline(customers=800, seed=11)
        assert ok, detail
    request.config.stash[FIRST_BUILD] = content_fingerprints(paths)
    return paths


@pytest.fixture(scope="session")
def first_build(request, pipeline_home) -> dict:
    """Fingerprints of the session pipeline's tables and champion, as first built."""
    return request.config.stash[FIRST_BUILD]


@pytest.fixture(scope="session")
def users_own_log(tmp_path_factory) -> SimpleNamespace:
    """`fti demo --transactions` on a log unlike the generated one (DuckDB), once a session:
    the CLI's test checks what it built, the engine test builds the same on Spark."""
    folder = tmp_path_factory.mktemp("own_log")
    log = folder / "mine.csv"
    customers, broken = user_log(log)
    home = folder / "home"
    light = str(light_training_file(folder))
    run = fti("demo", "--transactions", str(log), "--training-config", light, home=home)
    return SimpleNamespace(log=log, home=home, run=run, customers=customers, broken=broken)


@pytest.fixture
def built_home(pipeline_home, monkeypatch) -> Paths:
    """The session's pipeline home, with the environment pointing at it for this test: read,
    never changed (tests run in any order; one that runs, promotes or refreshes takes
    ``copied_home``)."""
    return point_env_at(pipeline_home.home, monkeypatch)


@pytest.fixture
def copied_home(pipeline_home, tmp_path, monkeypatch) -> Paths:
    """A copy of the session's pipeline home, the environment pointing at it: runs,
    promotions and store refreshes here touch nothing shared."""
    copy = tmp_path / "home"
    shutil.copytree(pipeline_home.home, copy)
    return point_env_at(copy, monkeypatch)


def pytest_collection_modifyitems(config, items):
    """A test that needs the session's pipeline run is a slow whole-pipeline test, wherever it
    lives; ``pytest -m "not slow"`` leaves them all out.

    Under pytest-xdist (`make test`: two workers, each module's tests on one worker so that
    its fixtures are built once), the modules holding slow tests are handed out first: the
    run then ends on short modules, with neither worker idle for long."""
    for item in items:
        if {"pipeline_home", "built_home", "users_own_log"} & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.slow)
    if hasattr(config, "workerinput"):
        slow_modules = {item.module for item in items if item.get_closest_marker("slow")}
        items.sort(key=lambda item: item.module not in slow_modules)
