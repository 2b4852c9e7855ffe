"""The same dbt models on DuckDB and on Spark give the same tables.

From one input, the hand-computed log and a generated log of a few thousand customers, each
engine builds every feature table, the labels and the training set; the test compares them
column by column: same names and types, same rows, keys, counts and dates exactly, floating
values within 1e-9 relative.
"""

import duckdb
import pytest

from ml.common.settings import Paths
from ml.engines import spark_exchange
from ml.features.dbt_manifest import load_manifest
from ml.ingestion.generator import generate
from ml.ingestion.raw_log import ingest_file, ingest_frames
from tests.helpers import dbt_build, engine_differences, spark_build
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
def generated(tmp_path_factory, dbt_manifest):
    log = generate(2000, seed=11)

    def load(con, _folder):
        ingest_frames(con, log.transactions, log.customers, log.customer_history)

    return _both_engines(tmp_path_factory.mktemp("generated"), load)


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


def test_generated_log_tables_equal(generated):
    differences, sizes = _compare(generated)
    assert differences == {r: {} for r in differences}
    # Every table is non-trivial, attributes included (the generated CRM has history).
    assert all(n > 0 for n in sizes.values()), sizes
    assert sizes["training.training_set"] == sizes["training.churn_labels"] > 10_000


def test_spark_tables_are_parquet_under_fti_home(generated):
    spark = generated[1]
    folder = spark.home / "spark" / "warehouse" / "features.db" / "customer_features"
    assert list(folder.glob("*.parquet"))
    assert not (spark.home / "metastore_db").exists()
    with duckdb.connect(str(spark.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from features.customer_features").fetchone()[0]
