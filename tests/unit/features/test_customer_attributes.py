"""Slowly changing customer attributes: kept by the dbt snapshot, joined as of the spine time."""

import duckdb
import pandas as pd
import pytest

from ml.features.dbt_manifest import load_manifest
from ml.features.retrieval import get_historical_features
from ml.features.views import feature_views, resolve
from ml.ingestion.raw_log import InputError, ingest_customers, ingest_file
from tests.helpers import dbt_build

LOG = """customer_id,transaction_ts,amount
A,2024-01-02 09:00,10.0
A,2024-03-20 10:00,5.0
B,2024-01-05,12.0
"""
FIRST_LOAD = """customer_id,updated_at,country,segment,acquisition_channel
A,2024-01-02 09:00,DE,standard,organic
B,2024-01-05 00:00,NL,standard,email
"""
# A joins the loyalty programme on 2024-03-10 at noon; B's row is an older re-send.
SECOND_LOAD = """customer_id,updated_at,segment
A,2024-03-10 12:00,loyalty_member
B,2023-12-01 00:00,loyalty_member
"""


def attributes(path, dbt_manifest):
    with duckdb.connect(str(path), read_only=True) as con:
        frame = con.execute(
            "select customer_id, valid_from::varchar, valid_to::varchar, country, segment "
            "from features.customer_attributes order by customer_id, valid_from"
        ).fetchall()
        spine = pd.DataFrame(
            {
                "customer_id": ["A", "A", "A", "A", "B"],
                "event_timestamp": pd.to_datetime(
                    [
                        "2023-12-31 23:00",
                        "2024-03-10 11:59",
                        "2024-03-10 12:00",
                        "2024-03-11 00:00",
                        "2024-06-01 00:00",
                    ]
                ),
            }
        )
        views = resolve(feature_views(load_manifest(dbt_manifest)), ["customer_attributes"])
        retrieved = get_historical_features(con, spine, views)
    return frame, retrieved


def test_snapshot_keeps_each_version_and_retrieval_joins_as_of(tmp_path, dbt_manifest):
    path = tmp_path / "warehouse.duckdb"
    (tmp_path / "log.csv").write_text(LOG)
    (tmp_path / "first.csv").write_text(FIRST_LOAD)
    (tmp_path / "second.csv").write_text(SECOND_LOAD)
    with duckdb.connect(str(path)) as con:
        ingest_file(con, tmp_path / "log.csv")
        assert ingest_customers(con, tmp_path / "first.csv") == 2
    dbt_build(path, "--select", "+customer_attributes")

    with duckdb.connect(str(path)) as con:
        # Only A's change is newer than what is loaded; B's old re-send changes nothing.
        assert ingest_customers(con, tmp_path / "second.csv") == 1
        assert con.execute(
            "select country, segment, acquisition_channel from raw.customers "
            "where customer_id = 'A'"
        ).fetchall() == [("DE", "loyalty_member", "organic")]
    dbt_build(path, "--select", "+customer_attributes")

    versions, retrieved = attributes(path, dbt_manifest)
    assert versions == [
        ("A", "2024-01-02 09:00:00", "2024-03-10 12:00:00", "DE", "standard"),
        ("A", "2024-03-10 12:00:00", None, "DE", "loyalty_member"),
        ("B", "2024-01-05 00:00:00", None, "NL", "standard"),
    ]
    # A version counts from its updated_at on (12:00 sees the noon change, 11:59 does not);
    # before the first version nothing is known: null, never today's value.
    segments = retrieved["customer_attributes__segment"]
    assert [None if pd.isna(s) else s for s in segments] == [
        None,
        "standard",
        "loyalty_member",
        "loyalty_member",
        "standard",
    ]
    assert retrieved["customer_attributes__country"].tolist()[1:] == ["DE"] * 3 + ["NL"]


def test_a_full_load_starts_a_new_history(tmp_path, dbt_manifest):
    path = tmp_path / "warehouse.duckdb"
    (tmp_path / "log.csv").write_text(LOG)
    (tmp_path / "first.csv").write_text(FIRST_LOAD)
    with duckdb.connect(str(path)) as con:
        ingest_file(con, tmp_path / "log.csv")
        ingest_customers(con, tmp_path / "first.csv")
    dbt_build(path, "--select", "+customer_attributes")
    with duckdb.connect(str(path)) as con:
        ingest_file(con, tmp_path / "log.csv")  # a new source replaces everything
    dbt_build(path, "--select", "+customer_attributes")
    versions, _ = attributes(path, dbt_manifest)
    assert versions == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("customer_id,country\nA,DE\n", "missing required column(s) updated_at"),
        ("customer_id,updated_at\nA,yesterday\n", "1 row(s) without a customer_id or a parse"),
    ],
)
def test_bad_attribute_file_changes_nothing(tmp_path, content, message):
    (tmp_path / "log.csv").write_text(LOG)
    (tmp_path / "first.csv").write_text(FIRST_LOAD)
    (tmp_path / "bad.csv").write_text(content)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ingest_file(con, tmp_path / "log.csv")
        ingest_customers(con, tmp_path / "first.csv")
        before = con.execute("select * from raw.customers order by 1").fetchall()
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            ingest_customers(con, tmp_path / "bad.csv")
        assert con.execute("select * from raw.customers order by 1").fetchall() == before


def test_training_set_uses_the_version_valid_at_each_label_date(built_home):
    """On the generated data (with moves, joins and cancellations), every training row's
    attributes equal the exported version valid at the end of its date: brute force."""
    with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
        history = con.execute(
            "select customer_id, updated_at, country, segment from raw.customer_history"
        ).df()
        rows = con.execute(
            "select customer_id, event_timestamp, customer_attributes__country as country, "
            "customer_attributes__segment as segment from training.training_set"
        ).df()
    assert history.groupby("customer_id").size().max() > 1  # there are changes to get wrong
    rows = rows.sort_values(["customer_id", "event_timestamp"]).reset_index(drop=True)
    changed = set(history.loc[history.duplicated("customer_id"), "customer_id"])
    sample = rows[rows["customer_id"].isin(changed)]
    assert len(sample) > 100
    for row in sample.itertuples():
        known = history[
            (history["customer_id"] == row.customer_id)
            & (history["updated_at"] < row.event_timestamp + pd.Timedelta(days=1))
        ]
        expected = known.sort_values("updated_at").iloc[-1] if len(known) else None
        assert (row.country, row.segment) == (
            (expected["country"], expected["segment"]) if expected is not None else (None, None)
        ), row
