"""The same dbt models on DuckDB and on Spark give the same tables.

From the hand-computed log, each engine builds every feature table, the labels and the
training set, compared column by column: same names and types, same rows, keys, counts and
dates exactly, floating values within 1e-9 relative. The session's pipeline (800 generated
customers) and a user's own log run whole on both engines and must give the same content
hashes: tables, training set, predictions, champion.
"""

import json

import duckdb
import pytest

from ml import engines
from ml.common.settings import Paths
from ml.engines import spark_exchange
from ml.features.dbt_manifest import load_manifest
from ml.ingestion.raw_log import ingest_file
from tests.helpers import (
    content_fingerprints,
    dbt_build,
    engine_differences,
    point_env_at,
    spark_build,
)
from tests.unit.features.test_features_sql import AS_OF, COLUMNS, EXPECTED, LOG

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def _both_engines(folder, load) -> tuple[Paths, Paths]:
    """Load the same input into two homes; build one with DuckDB, the other with Spark."""
    homes = Paths(folder / "duckdb"), Paths(folder / "spark")
    for home in homes:
        home.home.mkdir(parents=True)
        with duckdb.connect(str(home.warehouse)) as con:
            load(con, home.home)
    dbt_build(homes[0].warehouse)
    spark_build(homes[1])
    return homes


def _compare(homes: tuple[Paths, Paths]) -> dict[str, dict]:
    relations = spark_exchange.built_relations(load_manifest())
    with duckdb.connect() as con:
        con.execute(f"attach '{homes[0].warehouse}' as duck (read_only)")
        con.execute(f"attach '{homes[1].warehouse}' as spark (read_only)")
        found = {r: engine_differences(con, f"duck.{r}", f"spark.{r}") for r in relations}
        sizes = {r: con.execute(f"select count(*) from spark.{r}").fetchone()[0] for r in relations}
    return found, sizes


@pytest.fixture(scope="module")
def hand(tmp_path_factory, dbt_manifest):
    def load(con, folder):
        (folder / "log.csv").write_text(LOG)
        ingest_file(con, folder / "log.csv")

    return _both_engines(tmp_path_factory.mktemp("hand"), load)


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
    differences, sizes = _compare(hand)
    assert differences == {r: {} for r in differences}
    assert sizes["features.customer_features"] == 77 and sizes["training.churn_labels"] == 25


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


def test_spark_tables_are_parquet_under_fti_home(spark_pipeline):
    spark = spark_pipeline
    folder = spark.home / "spark" / "warehouse" / "features.db" / "customer_features"
    assert list(folder.glob("*.parquet"))
    assert not (spark.home / "metastore_db").exists()
    with duckdb.connect(str(spark.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from features.customer_features").fetchone()[0]


def test_users_own_log_on_both_engines(tmp_path):
    """`fti demo --engine spark` on a user's log (integer ids, dates without times, broken
    rows) gives what `fti demo` gives: the same tables, champion and predictions; `fti status`
    names the engine."""
    from tests.integration.test_cli import fti, user_log

    log = user_log(tmp_path / "log.csv")
    homes = {engine: tmp_path / engine for engine in engines.ENGINES}
    for engine, home in homes.items():
        run = fti("demo", "--transactions", str(log), "--engine", engine, home=home)
        assert run.returncode == 0, run.stderr[-3000:]
    duck, spark = (Paths(homes[e].resolve()) for e in engines.ENGINES)
    with pytest.MonkeyPatch.context() as mp:
        point_env_at(duck.home, mp)
        expected = content_fingerprints(duck)
        point_env_at(spark.home, mp)
        assert content_fingerprints(spark) == expected
    status = json.loads(fti("status", "--json", home=spark.home).stdout)
    assert status["engine"] == "spark"
    assert status["tables"]["features.customer_features"] > 0
