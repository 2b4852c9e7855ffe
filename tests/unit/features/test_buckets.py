"""Customer buckets (ml/features/buckets.py): every id lands in exactly one bucket, and the
count keeps each bucket's share of the memory limit."""

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.features.buckets import bucket_count, buckets, memory_limit_bytes


@pytest.mark.parametrize(
    ("limit", "low", "high"),
    [("300MB", 286 * 2**20, 287 * 2**20), ("5GB", 4.6 * 2**30, 4.7 * 2**30)],
)
def test_the_memory_limit_is_read_back_in_bytes(limit, low, high):
    with duckdb.connect(config={"memory_limit": limit}) as con:
        # DuckDB shows 286.1 MiB, 4.6 GiB: one decimal
        assert round(low) <= memory_limit_bytes(con) <= high


def test_the_count_keeps_each_bucket_within_its_share():
    with duckdb.connect(config={"memory_limit": "1GiB"}) as con:
        assert bucket_count(con, rows=0, bytes_per_row=250, memory_share=0.5) == 1
        assert bucket_count(con, rows=2**21, bytes_per_row=256, memory_share=0.5) == 1
        assert bucket_count(con, rows=2**21 + 1, bytes_per_row=256, memory_share=0.5) == 2
        assert bucket_count(con, rows=10 * 2**21, bytes_per_row=256, memory_share=0.5) == 10


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=60), st.integers(1, 7))
def test_every_id_is_in_exactly_one_bucket(ids, count):
    with duckdb.connect() as con:
        con.execute("create table ids (customer_id varchar)")
        if ids:
            con.executemany("insert into ids values (?)", [[i] for i in ids])
        seen = []
        for bucket in buckets("customer_id", count):
            where = bucket.holds("customer_id")
            seen += [r[0] for r in con.execute(f"select * from ids where {where}").fetchall()]
    assert sorted(seen) == sorted(ids)
