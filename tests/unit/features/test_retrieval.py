"""Point-in-time retrieval against a brute-force reference (hypothesis) and by hand."""

from datetime import date, datetime, timedelta
from unittest import mock

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.features import retrieval
from ml.features.buckets import buckets
from ml.features.retrieval import SpineError, get_historical_features, retrieve
from ml.features.views import FeatureView

BASE = datetime(2024, 1, 1)


def view(name, relation, timestamp_column, max_age_days, features=("x",)):
    return FeatureView(
        name=name,
        version=1,
        entity="customer_id",
        timestamp_column=timestamp_column,
        max_age_days=max_age_days,
        features=tuple(features),
        descriptions=tuple("" for _ in features),
        relation=relation,
        fingerprint="test",
    )


def load(con, daily_rows, event_rows):
    con.execute(
        "create or replace table main.daily (customer_id varchar, as_of_date date, x double)"
    )
    con.execute(
        "create or replace table main.events (customer_id varchar, event_ts timestamp, y double)"
    )
    if daily_rows:
        con.executemany("insert into main.daily values (?, ?, ?)", daily_rows)
    if event_rows:
        con.executemany("insert into main.events values (?, ?, ?)", event_rows)


def reference(rows, spine_time, entity, available, max_age_days):
    """Latest row of ``entity`` available at ``spine_time``, if not older than max_age."""
    known = [(available(ts), value) for e, ts, value in rows if e == entity]
    known = [(at, value) for at, value in known if at <= spine_time]
    if not known:
        return None
    at, value = max(known)
    if max_age_days is not None and at < spine_time - timedelta(days=max_age_days):
        return None
    return value


entities = st.sampled_from(["a", "b", "c"])
daily = st.lists(st.tuples(entities, st.integers(0, 30)), unique=True, max_size=40)
events = st.lists(
    st.tuples(entities, st.integers(0, 30 * 24 * 4)), unique=True, max_size=40
)  # quarter hours
spines = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "missing"]), st.integers(0, 34 * 24 * 4)),
    min_size=1,
    max_size=60,
)


def example(daily_keys, event_keys, spine_keys, spine_as_dates):
    """Rows of a DATE-stamped and a TIMESTAMP-stamped view, and a spine, from hypothesis keys."""
    daily_rows = [
        (e, (BASE + timedelta(days=d)).date(), float(i)) for i, (e, d) in enumerate(daily_keys)
    ]
    event_rows = [
        (e, BASE + timedelta(minutes=15 * q), float(100 + i)) for i, (e, q) in enumerate(event_keys)
    ]
    # Spine times: timestamps on quarter hours, or whole dates; duplicates and ties included.
    times = [BASE + timedelta(minutes=15 * q) for _, q in spine_keys]
    spine = pd.DataFrame(
        {
            "customer_id": [e for e, _ in spine_keys],
            "event_timestamp": [t.date() for t in times] if spine_as_dates else times,
            "label": range(len(spine_keys)),
        }
    )
    if spine_as_dates:
        spine["event_timestamp"] = pd.to_datetime(spine["event_timestamp"]).dt.date
    return daily_rows, event_rows, spine


def assert_matches_reference(out, spine, daily_rows, event_rows, max_age, spine_as_dates):
    """One output row per spine row, in order, each with the brute-force reference's values."""
    assert list(out.columns) == ["customer_id", "event_timestamp", "label", "daily__x", "events__y"]
    assert out["label"].tolist() == list(range(len(spine)))
    for row in out.itertuples(index=False):
        t = pd.Timestamp(row.event_timestamp).to_pydatetime()
        spine_time = t + timedelta(days=1) if spine_as_dates else t
        want_x = reference(
            daily_rows,
            spine_time,
            row.customer_id,
            lambda d: datetime.combine(d, datetime.min.time()) + timedelta(days=1),
            max_age,
        )
        want_y = reference(event_rows, spine_time, row.customer_id, lambda ts: ts, None)
        got_x = None if pd.isna(row.daily__x) else row.daily__x
        got_y = None if pd.isna(row.events__y) else row.events__y
        assert (got_x, got_y) == (want_x, want_y), (row, spine_time)


@settings(max_examples=150, deadline=None)
@given(
    daily,
    events,
    spines,
    st.one_of(st.none(), st.integers(0, 6)),
    st.booleans(),
    st.integers(2, 5),
    st.booleans(),
)
def test_equals_brute_force(
    daily_keys, event_keys, spine_keys, max_age, spine_as_dates, count, colliding
):
    daily_rows, event_rows, spine = example(daily_keys, event_keys, spine_keys, spine_as_dates)
    con = duckdb.connect()
    load(con, daily_rows, event_rows)
    selection = {
        view("daily", "main.daily", "as_of_date", max_age): ["x"],
        view("events", "main.events", "event_ts", None, ("y",)): ["y"],
    }
    # Hashed join keys that collide all the time: a shared hash must never give a wrong row.
    keys = mock.patch.object(retrieval, "_KEY", "hash({}) % 2") if colliding else mock.MagicMock()
    with keys:
        out = get_historical_features(con, spine, selection)
        assert_matches_reference(out, spine, daily_rows, event_rows, max_age, spine_as_dates)
        # What the training set is built from: the same rows, in no particular order.
        con.register("_unordered_spine", spine)
        unordered = retrieve(
            con, "_unordered_spine", selection, lambda q: con.execute(q).df(), in_spine_order=False
        )
        # What a training set too large for memory is built from: the same rows, by bucket.
        bucketed = pd.concat(
            retrieve(con, "_unordered_spine", selection, lambda q: con.execute(q).df(), False, b)
            for b in buckets("customer_id", count)
        )
    pd.testing.assert_frame_equal(
        unordered.sort_values("label").reset_index(drop=True), out, check_dtype=True
    )
    # (dtypes aside: pandas types an empty bucket's text column differently)
    pd.testing.assert_frame_equal(
        bucketed.sort_values("label").reset_index(drop=True), out, check_dtype=False
    )


def test_date_snapshots_are_known_from_the_end_of_their_day():
    con = duckdb.connect()
    load(con, [("a", date(2024, 3, 4), 1.0), ("a", date(2024, 3, 11), 2.0)], [])
    selection = {view("daily", "main.daily", "as_of_date", 7): ["x"]}
    spine = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "a"],
            "event_timestamp": pd.to_datetime(
                [
                    "2024-03-04 10:00",  # same day as a snapshot: not yet known
                    "2024-03-05 00:00",  # known from midnight
                    "2024-03-12 00:00",  # the newer one
                    "2024-03-12 00:00",  # duplicate spine row
                    "2024-03-19 00:00",  # exactly max_age old: still valid
                ]
            ),
        }
    )
    out = get_historical_features(con, spine, selection)
    assert out["daily__x"].tolist()[1:] == [1.0, 2.0, 2.0, 2.0]
    assert pd.isna(out["daily__x"][0])
    late = spine.assign(event_timestamp=pd.to_datetime(["2024-03-19 00:00:01"] * 5))
    assert get_historical_features(con, late, selection)["daily__x"].isna().all()
    dates = pd.DataFrame({"customer_id": ["a"], "event_timestamp": [date(2024, 3, 11)]})
    assert get_historical_features(con, dates, selection)["daily__x"].tolist() == [2.0]


def test_spine_without_required_columns_is_refused():
    con = duckdb.connect()
    load(con, [], [])
    selection = {view("daily", "main.daily", "as_of_date", None): ["x"]}
    with pytest.raises(SpineError, match="no event_timestamp column"):
        get_historical_features(con, pd.DataFrame({"customer_id": ["a"]}), selection)
    with pytest.raises(SpineError, match="no customer_id column"):
        get_historical_features(
            con, pd.DataFrame({"id": ["a"], "event_timestamp": [BASE]}), selection
        )


def test_an_empty_spine_gives_no_rows():
    con = duckdb.connect()
    load(con, [("a", BASE.date(), 1.0)], [("a", BASE, 2.0)])
    spine = pd.DataFrame(
        {"customer_id": pd.Series([], dtype=str), "event_timestamp": pd.Series([], dtype="M8[ns]")}
    )
    selection = {view("daily", "main.daily", "as_of_date", 3): ["x"]}
    out = get_historical_features(con, spine, selection)
    assert list(out.columns) == ["customer_id", "event_timestamp", "daily__x"] and out.empty


def test_a_shared_hash_runs_the_retrieval_again_on_the_ids():
    """Two ids whose join keys collide: the hashed query fails on its own check and the second
    run, keyed on the ids, gives each id its own row."""
    con = duckdb.connect()
    load(con, [("a", date(2024, 3, 4), 1.0), ("b", date(2024, 3, 5), 2.0)], [])
    selection = {view("daily", "main.daily", "as_of_date", None): ["x"]}
    spine = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "event_timestamp": pd.to_datetime(["2024-03-10"] * 3)}
    )
    con.register("_spine", spine)
    queries = []

    def run(query):
        queries.append(query)
        return con.execute(query).df()

    with mock.patch.object(retrieval, "_KEY", "0 * hash({})"):  # every id the same key
        out = retrieve(con, "_spine", selection, run)
    assert len(queries) == 2 and "% 0" not in queries[1] and "0 * hash" not in queries[1]
    assert out["daily__x"].tolist()[:2] == [1.0, 2.0] and pd.isna(out["daily__x"][2])
    # Without a collision the hashed query is the only one.
    queries.clear()
    assert retrieve(con, "_spine", selection, run)["daily__x"].tolist()[:2] == [1.0, 2.0]
    assert len(queries) == 1 and "hash(" in queries[0]


def test_an_output_that_cannot_be_written_as_asked_is_refused_before_reading(tmp_path):
    output_format, OutputError = retrieval.output_format, retrieval.OutputError
    spine = tmp_path / "spine.csv"
    spine.write_text("customer_id,event_timestamp\nC1,2025-01-01\n")
    assert output_format(spine, tmp_path / "out.parquet") == "parquet"
    assert output_format(spine, tmp_path / "OUT.CSV") == "csv, header true"
    refused = {
        tmp_path / "out.json": "out.json: unsupported output type '.json'; give .parquet or .csv",
        tmp_path / "nowhere" / "out.csv": f"{tmp_path / 'nowhere' / 'out.csv'}: no folder",
        tmp_path / "." / "spine.csv": "is the spine itself; write the features to another file",
    }
    for out, said in refused.items():
        with pytest.raises(OutputError) as raised:
            output_format(spine, out)
        assert said in raised.value.message
    assert spine.read_text() == "customer_id,event_timestamp\nC1,2025-01-01\n"
