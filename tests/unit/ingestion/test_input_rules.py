"""Messy files as real exports produce them, loaded for real: each row either stored with the
exact UTC time and amount written here, or set aside with its reason; re-sent, nothing changes.
"""

import datetime as dt

import duckdb
import pandas as pd
import pytest

from ml.ingestion.raw_log import InputError, ingest_file

T = dt.datetime
# (customer_id, transaction_ts, amount) as text -> (stored UTC time, amount) or the reason.
MESSY = [
    ("a", "2025-12-31T23:30:00-05:00", "10", (T(2026, 1, 1, 4, 30), 10.0)),
    ("b", "2025-12-31 23:30:00+05:30", "10.50", (T(2025, 12, 31, 18, 0), 10.5)),
    ("c", "2025-12-31T23:30:00Z", ".5", (T(2025, 12, 31, 23, 30), 0.5)),
    ("d", "2025-12-31 23:30:00 EST", "+7", (T(2026, 1, 1, 4, 30), 7.0)),
    ("e", "2025-12-31 23:30:00 America/New_York", " 3 ", (T(2026, 1, 1, 4, 30), 3.0)),
    ("f", "2025-12-31 23:30:00 +01", "3", (T(2025, 12, 31, 22, 30), 3.0)),
    ("g", "2025-12-31 10:00:00 PM", "3", (T(2025, 12, 31, 22, 0), 3.0)),
    ("h", "2025-12-31 10:00 a.m.", "3", (T(2025, 12, 31, 10, 0), 3.0)),
    ("i", "2025-12-31", "3", (T(2025, 12, 31, 0, 0), 3.0)),
    ("j", "2025-12-31 23:30", "3", (T(2025, 12, 31, 23, 30), 3.0)),
    ("k", "2025-12-31 23:30:00 Foo/Bar", "3", "unknown time zone in transaction_ts"),
    ("l", "2025-12-31 13:00 PM", "3", "unreadable 12-hour time in transaction_ts"),
    ("m", "1735689600", "3", "epoch number in transaction_ts: give an ISO 8601 date or time"),
    ("n", "31/12/2025", "3", "unparseable transaction_ts"),
    ("o", "2025-12-31", "1_000", "unparseable amount"),
    ("p", "2025-12-31", "1e3", "unparseable amount"),
    ("q", "2025-12-31", "1,234.50", "unparseable amount"),
    ("r", "2025-12-31", "€12", "unparseable amount"),
    ("s", "2025-12-31", "inf", "non-finite amount"),
    ("t", "2025-12-31", "-3", "amount not positive"),
    ("x" * 129, "2025-12-31", "3", "customer_id longer than 128 characters"),
    ("u\x07v", "2025-12-31", "3", "customer_id with control characters"),
    (" \t ", "2025-12-31", "3", "missing customer_id"),
]
# The same clock times in a file whose zone is New York: only naive times move.
IN_NEW_YORK = {
    "a": T(2026, 1, 1, 4, 30),  # has an offset: unchanged
    "g": T(2026, 1, 1, 3, 0),  # 10 PM in New York
    "i": T(2025, 12, 31, 0, 0),  # a date keeps its day
    "j": T(2026, 1, 1, 4, 30),
}


def _csv(path, rows) -> None:
    frame = pd.DataFrame(rows, columns=["customer_id", "transaction_ts", "amount"])
    frame.to_csv(path, index=False)


def _stored(con):
    good = con.execute(
        "select customer_id, transaction_ts, amount from raw.transactions"
    ).fetchall()
    bad = con.execute(
        "select source_row, transaction_ts, amount, reject_reason from raw.rejected_transactions"
    ).fetchall()
    return {c: (t, a) for c, t, a in good}, bad


@pytest.fixture
def con():
    with duckdb.connect() as c:
        yield c


def test_every_messy_row_is_stored_exactly_or_set_aside_with_its_reason(tmp_path, con):
    _csv(tmp_path / "messy.csv", [row[:3] for row in MESSY])
    result = ingest_file(con, tmp_path / "messy.csv")
    good, bad = _stored(con)
    expected_good = {c: want for c, _, _, want in MESSY if isinstance(want, tuple)}
    assert good == expected_good
    # The raw text is kept beside the reason.
    reasons = {row: (t, a, r) for row, t, a, r in bad}
    expected_bad = {
        row: (t, a, want)
        for row, (_, t, a, want) in enumerate(MESSY, start=1)
        if isinstance(want, str)
    }
    assert reasons == expected_bad
    assert result.transactions == len(expected_good) and result.rejected == len(expected_bad)


def test_naive_times_are_in_the_files_zone_when_it_is_given(tmp_path, con):
    rows = [row[:3] for row in MESSY if row[0] in IN_NEW_YORK]
    _csv(tmp_path / "ny.csv", rows)
    ingest_file(con, tmp_path / "ny.csv", zone="America/New_York")
    good, _ = _stored(con)
    assert {c: t for c, (t, _) in good.items()} == IN_NEW_YORK
    assert con.execute("select current_setting('TimeZone')").fetchone()[0] == "UTC"


def test_an_unknown_zone_for_the_file_is_refused(tmp_path, con):
    _csv(tmp_path / "x.csv", [("a", "2025-12-31", "3")])
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        ingest_file(con, tmp_path / "x.csv", zone="Mars/Olympus")


def test_ids_are_one_customer_whatever_their_padding_or_unicode_form(tmp_path, con):
    rows = [
        ("Zo\u00eb-42", "2025-12-01", "1"),  # precomposed ë
        ("Zoe\u0308-42", "2025-12-02", "1"),  # e + combining diaeresis
        ("\u00a0Zo\u00eb-42\t", "2025-12-03", "1"),
        ("顧客-7", "2025-12-01", "1"),
        ("y" * 128, "2025-12-01", "1"),
    ]
    _csv(tmp_path / "ids.csv", rows)
    ingest_file(con, tmp_path / "ids.csv")
    ids = con.execute(
        "select customer_id, count(*) from raw.transactions group by 1 order by 1"
    ).fetchall()
    assert ids == [("Zo\u00eb-42", 3), ("y" * 128, 1), ("顧客-7", 1)]


def test_resending_a_file_changes_nothing(tmp_path, con):
    _csv(tmp_path / "day.csv", [row[:3] for row in MESSY])
    ingest_file(con, tmp_path / "day.csv")
    before = _stored(con)
    again = ingest_file(con, tmp_path / "day.csv", append=True)
    assert (again.transactions, again.rejected) == (0, 0)
    assert again.already_loaded == len(before[0])
    assert _stored(con) == before
    # A new bad row in the re-sent file is still set aside, once.
    _csv(tmp_path / "day.csv", [row[:3] for row in MESSY] + [("z", "soon", "1")])
    assert ingest_file(con, tmp_path / "day.csv", append=True).rejected == 1
    assert ingest_file(con, tmp_path / "day.csv", append=True).rejected == 0
    assert len(_stored(con)[1]) == len(before[1]) + 1


def test_typed_parquet_columns_follow_the_same_rules(tmp_path, con):
    utc = pd.Timestamp("2025-12-31 23:30", tz="America/New_York")
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "transaction_ts": [utc, utc, utc],
            "amount": [10.0, float("inf"), -1.0],
        }
    )
    frame.to_parquet(tmp_path / "zoned.parquet")
    ingest_file(con, tmp_path / "zoned.parquet")
    good, bad = _stored(con)
    assert good == {"1": (T(2026, 1, 1, 4, 30), 10.0)}
    assert sorted(r for *_, r in bad) == ["amount not positive", "non-finite amount"]

    naive = frame.assign(transaction_ts=utc.tz_localize(None), amount=5.0)
    naive.to_parquet(tmp_path / "naive.parquet")
    ingest_file(con, tmp_path / "naive.parquet", zone="Europe/Berlin")
    good, _ = _stored(con)
    assert good["1"] == (T(2025, 12, 31, 22, 30), 5.0)  # 23:30 in Berlin

    epochs = frame.assign(transaction_ts=[1735689600] * 3, amount=5.0)
    epochs.to_parquet(tmp_path / "epochs.parquet")
    with pytest.raises(InputError, match="epoch number in transaction_ts"):
        ingest_file(con, tmp_path / "epochs.parquet")
