"""Point-in-time retrieval in Spark SQL against the brute-force reference the DuckDB retrieval
is held to (tests/unit/features/test_retrieval.py), and the same by-hand edge."""

from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.features.retrieval import SpineError
from tests.unit.features.test_retrieval import (
    assert_matches_reference,
    daily,
    events,
    example,
    spines,
    view,
)

pytestmark = pytest.mark.spark
pyspark = pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def spark():
    """A local session with the project's time settings (timestamps without zone, UTC) and
    the in-memory catalog: the views here are temporary."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    yield session
    session.stop()


def retrieve(spark, daily_rows, event_rows, spine, max_age):
    from ml.features.spark_retrieval import historical_features

    spark.createDataFrame(
        daily_rows, "customer_id string, as_of_date date, x double"
    ).createOrReplaceTempView("daily")
    spark.createDataFrame(
        event_rows, "customer_id string, event_ts timestamp, y double"
    ).createOrReplaceTempView("events")
    stamps = pd.api.types.is_datetime64_any_dtype(spine["event_timestamp"])
    rows = [
        (c, t.to_pydatetime() if stamps else t, int(label))
        for c, t, label in spine.itertuples(index=False, name=None)
    ]
    kind = "timestamp" if stamps else "date"
    frame = spark.createDataFrame(rows, f"customer_id string, event_timestamp {kind}, label bigint")
    selection = {
        view("daily", "daily", "as_of_date", max_age): ["x"],
        view("events", "events", "event_ts", None, ("y",)): ["y"],
    }
    return historical_features(spark, frame, selection).toPandas()


@settings(max_examples=40, deadline=None)
@given(daily, events, spines, st.one_of(st.none(), st.integers(0, 6)), st.booleans())
def test_equals_brute_force(spark, daily_keys, event_keys, spine_keys, max_age, spine_as_dates):
    daily_rows, event_rows, spine = example(daily_keys, event_keys, spine_keys, spine_as_dates)
    out = retrieve(spark, daily_rows, event_rows, spine, max_age)
    assert_matches_reference(out, spine, daily_rows, event_rows, max_age, spine_as_dates)


def test_date_snapshot_known_from_the_end_of_its_day(spark):
    """A snapshot dated D is seen by a spine dated D, not by one at D 10:00."""
    daily_rows = [("a", date(2024, 1, 5), 1.0)]
    at_date = pd.DataFrame(
        {"customer_id": ["a"], "event_timestamp": [date(2024, 1, 5)], "label": [0]}
    )
    out = retrieve(spark, daily_rows, [], at_date, None)
    assert out["daily__x"].tolist() == [1.0]
    at_ten = pd.DataFrame(
        {"customer_id": ["a"], "event_timestamp": [pd.Timestamp("2024-01-05 10:00")], "label": [0]}
    )
    out = retrieve(spark, daily_rows, [], at_ten, None)
    assert out["daily__x"].isna().tolist() == [True]


def test_spine_without_time_is_refused(spark):
    from ml.features.spark_retrieval import historical_features

    frame = spark.createDataFrame([("a",)], "customer_id string")
    with pytest.raises(SpineError, match="event_timestamp"):
        historical_features(spark, frame, {view("daily", "daily", "as_of_date", None): ["x"]})
