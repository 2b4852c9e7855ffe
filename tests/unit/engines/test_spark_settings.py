"""dbt's Spark profile and the project's own Spark sessions use the same settings, and the
engine is chosen by one variable."""

import re

import pytest
import yaml

from ml.common.settings import DBT_PROJECT_DIR, Paths
from ml.engines import EngineError, current, record, spark_session

ENV_VAR = re.compile(r"""\{\{\s*env_var\('(\w+)',\s*'([^']*)'\)\s*\}\}""")


def rendered_profile_parameters(env: dict[str, str]) -> dict[str, str]:
    """The profile's server_side_parameters with each env_var() as dbt renders it."""
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())
    parameters = profile["fti"]["outputs"]["spark"]["server_side_parameters"]
    return {
        key: ENV_VAR.sub(lambda m: env.get(m.group(1), m.group(2)), str(value))
        for key, value in parameters.items()
    }


def test_profile_and_sessions_agree(tmp_path, monkeypatch):
    paths = Paths(tmp_path)
    for name in ("FTI_SPARK_DRIVER_MEMORY", "FTI_SPARK_SHUFFLE_PARTITIONS", "SPARK_REMOTE"):
        monkeypatch.delenv(name, raising=False)
    env = spark_session.environment(paths)
    assert rendered_profile_parameters(env) == spark_session.conf(paths)
    monkeypatch.setenv("FTI_SPARK_DRIVER_MEMORY", "12g")
    env["FTI_SPARK_DRIVER_MEMORY"] = "12g"
    assert rendered_profile_parameters(env) == spark_session.conf(paths)


def test_master_or_connect_server(tmp_path, monkeypatch):
    """A master for pyspark's launcher, or none with a Spark Connect server (Spark refuses a
    session that names both)."""
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.setenv("FTI_SPARK_MASTER", "spark://cluster:7077")
    env = spark_session.environment(Paths(tmp_path))
    assert env["PYSPARK_SUBMIT_ARGS"] == "--master spark://cluster:7077 pyspark-shell"
    monkeypatch.setenv("SPARK_REMOTE", "sc://cluster:15002")
    assert "PYSPARK_SUBMIT_ARGS" not in spark_session.environment(Paths(tmp_path))
    assert "spark.master" not in rendered_profile_parameters(env)


def test_spark_files_stay_under_fti_home(tmp_path):
    conf = spark_session.conf(Paths(tmp_path))
    assert conf["spark.sql.warehouse.dir"].startswith(str(tmp_path))
    assert f"-Dderby.system.home={tmp_path}" in conf["spark.driver.extraJavaOptions"]


def test_engine_is_chosen_by_fti_engine(tmp_path, monkeypatch):
    monkeypatch.delenv("FTI_ENGINE", raising=False)
    assert current() == "duckdb"
    paths = Paths(tmp_path)
    assert current(paths) == "duckdb"
    record(paths, "spark")  # a home built on Spark stays on Spark unless told otherwise
    assert current(paths) == "spark"
    monkeypatch.setenv("FTI_ENGINE", "duckdb")
    assert current(paths) == "duckdb"
    monkeypatch.setenv("FTI_ENGINE", "Spark")
    assert current() == "spark"
    monkeypatch.setenv("FTI_ENGINE", "postgres")
    with pytest.raises(EngineError, match="postgres"):
        current()
