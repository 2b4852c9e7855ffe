"""The same dbt models on DuckDB and on Spark give the same tables.

From the hand-computed log, each engine builds every feature table, the labels and the
training set (Spark as a separate Spark Connect server, the way a cluster is reached), compared
column by column: same names and types, same rows, keys, counts and
dates exactly, floating values within 1e-9 relative. The session's pipeline (800 generated
customers) and a user's own log run whole on both engines and must give the same content
hashes: tables, training set, predictions, champion.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ml import engines
from ml.common.settings import DBT_PROJECT_DIR, REPO_ROOT, Paths
from ml.engines import spark_exchange, spark_session
from ml.features.dbt_manifest import load_manifest
from ml.ingestion.raw_log import ingest_file
from tests.helpers import (
    content_fingerprints,
    dbt_build,
    engine_differences,
    fti,
    light_training_file,
    point_env_at,
    said,
    spark_build,
)
from tests.unit.features.test_features_sql import AS_OF, COLUMNS, EXPECTED, LOG

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def _compare(homes: tuple[Paths, Paths]) -> dict[str, dict]:
    relations = spark_exchange.built_relations(load_manifest())
    with duckdb.connect() as con:
        con.execute(f"attach '{homes[0].warehouse}' as duck (read_only)")
        con.execute(f"attach '{homes[1].warehouse}' as spark (read_only)")
        found = {r: engine_differences(con, f"duck.{r}", f"spark.{r}") for r in relations}
        sizes = {r: con.execute(f"select count(*) from spark.{r}").fetchone()[0] for r in relations}
    return found, sizes


@pytest.fixture(scope="module")
def hand(connect_server, tmp_path_factory, dbt_manifest):
    """The hand-computed log built by DuckDB and by Spark, Spark reached as a cluster is: a
    Spark Connect server in a process of its own (the session's pipeline below runs Spark in
    process, as `fti` does by default)."""
    spark, url = connect_server
    duck = Paths(tmp_path_factory.mktemp("hand"))
    for home in (duck, spark):
        (home.home / "log.csv").write_text(LOG)
        with duckdb.connect(str(home.warehouse)) as con:
            ingest_file(con, home.home / "log.csv")
    dbt_build(duck.warehouse)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARK_REMOTE", url)
        spark_build(spark)
    return duck, spark


@pytest.fixture(scope="module")
def spark_pipeline(tmp_path_factory, pipeline_home):
    """The session's pipeline (800 generated customers, seed 11) again, on the Spark engine."""
    from orchestration.runner import run_pipeline

    with pytest.MonkeyPatch.context() as mp:
        paths = point_env_at(tmp_path_factory.mktemp("spark_pipeline"), mp)
        mp.setenv("FTI_ENGINE", "spark")
        ok, detail = run_pipeline(customers=800, seed=11)
        assert ok, detail
    return paths


def test_hand_log_tables_equal(hand):
    """dbt-spark's session and the training-set job, as clients of the Connect server, build
    what DuckDB built."""
    differences, sizes = _compare(hand)
    assert differences == {r: {} for r in differences}
    assert sizes["features.customer_features"] == 77 and sizes["training.churn_labels"] == 25
    assert sizes["training.training_set"] == 25


def test_hand_log_values_on_spark(hand):
    """The Spark engine's features are the hand-computed ones (read through the mirror)."""
    with duckdb.connect(str(hand[1].warehouse), read_only=True) as con:
        rows = con.execute(
            f"select customer_id, {COLUMNS} from features.customer_features "
            "where as_of_date = ? order by customer_id",
            [AS_OF],
        ).fetchall()
    assert {r[0]: tuple(r[1:]) for r in rows} == EXPECTED


def test_pipeline_on_spark_builds_what_duckdb_built(spark_pipeline, first_build):
    """Every table, the training set, the champion (family and metrics) and every prediction
    (scored inside Spark) are those of the DuckDB run: the same content hashes."""
    assert content_fingerprints(spark_pipeline) == first_build
    with duckdb.connect(str(spark_pipeline.warehouse), read_only=True) as con:
        engine = con.execute(
            "select count(*) from duckdb_views() where sql ilike '%read_parquet(%'"
        ).fetchone()[0]
    assert engine == len(spark_exchange.built_relations(load_manifest()))
    assert engines.recorded(spark_pipeline) == "spark"


def test_features_historical_on_spark(spark_pipeline, pipeline_home, tmp_path):
    """`fti features historical` on a Spark home runs the retrieval in Spark SQL and writes
    what the DuckDB retrieval writes on the DuckDB home."""
    with duckdb.connect(str(pipeline_home.warehouse), read_only=True) as con:
        spine = con.execute(
            "select customer_id, as_of_date + 3 as event_timestamp from training.churn_labels "
            "using sample 200 rows (reservoir, 5) order by all"
        ).df()
    spine.loc[len(spine)] = ["no-such-customer", spine["event_timestamp"].iloc[0]]
    spine.to_csv(tmp_path / "spine.csv", index=False)
    outputs = {}
    for name, home in (("duckdb", pipeline_home), ("spark", spark_pipeline)):
        out = tmp_path / f"{name}.parquet"
        run = fti(
            "features",
            "historical",
            "--spine",
            str(tmp_path / "spine.csv"),
            "--out",
            str(out),
            home=home.home,
        )
        assert run.returncode == 0, said(run)
        outputs[name] = pd.read_parquet(out)
    assert "(Spark)" in run.stdout
    pd.testing.assert_frame_equal(outputs["spark"], outputs["duckdb"])
    assert outputs["spark"]["customer_features__recency_days"].notna().sum() == 200


def test_spark_tables_are_parquet_under_fti_home(spark_pipeline):
    """Spark's tables, metastore and Derby log stay under FTI_HOME, never in the folders dbt
    and the jobs run from (Spark's defaults)."""
    spark = spark_pipeline
    folder = spark.home / "spark" / "warehouse" / "features.db" / "customer_features"
    assert list(folder.glob("*.parquet"))
    assert (spark.home / "spark" / "metastore" / "metastore_db").is_dir()
    for cwd in (REPO_ROOT, DBT_PROJECT_DIR):
        for stray in ("metastore_db", "spark-warehouse", "derby.log"):
            assert not (cwd / stray).exists(), cwd / stray
    with duckdb.connect(str(spark.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from features.customer_features").fetchone()[0]


def test_users_own_log_on_both_engines(users_own_log, tmp_path):
    """`fti demo --engine spark` on a user's log (integer ids, dates without times, broken
    rows) gives what `fti demo` gave: the same tables, champion and predictions; `fti status`
    names the engine."""
    home = tmp_path / "spark"
    light = str(light_training_file(tmp_path))
    run = fti(
        "demo",
        "--transactions",
        str(users_own_log.log),
        *("--engine", "spark", "--training-config", light),
        home=home,
    )
    assert run.returncode == 0, said(run)
    duck, spark = Paths(users_own_log.home.resolve()), Paths(home.resolve())
    with pytest.MonkeyPatch.context() as mp:
        point_env_at(duck.home, mp)
        expected = content_fingerprints(duck)
        point_env_at(spark.home, mp)
        assert content_fingerprints(spark) == expected
    status = json.loads(fti("status", "--json", home=spark.home).stdout)
    assert status["engine"] == "spark"
    assert status["tables"]["features.customer_features"] > 0


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A Spark Connect server in a process of its own, configured for one FTI_HOME, reached
    the way a cluster is: by ``SPARK_REMOTE=sc://host:port`` alone."""
    import pyspark

    home = Paths(tmp_path_factory.mktemp("connect"))
    spark_home = Path(pyspark.__file__).parent
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = {
        **spark_session.conf(home),
        "spark.connect.grpc.binding.port": str(port),
        "spark.pyspark.python": sys.executable,
        "spark.sql.catalogImplementation": "hive",
    }
    argv = ["bash", str(spark_home / "sbin" / "start-connect-server.sh"), "--wait"]
    argv += ["--master", "local[2]"]
    for key, value in settings.items():
        argv += ["--conf", f"{key}={value}"]
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOG_DIR": str(home.home)}
    env.pop("SPARK_REMOTE", None)
    with open(home.home / "server.log", "w") as log:
        server = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, (home.home / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the Connect server did not start"
            time.sleep(1)
        yield home, f"sc://127.0.0.1:{port}"
    finally:
        # The server is a shell and a JVM in one process group. SIGTERM does not end it (the
        # shell waits for the JVM, whose shutdown hooks can hang): the whole group is killed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=60)
