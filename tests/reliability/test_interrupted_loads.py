"""A load whose run died before dbt built on it is not forgotten: the next incremental build
starts early enough to include it."""

import duckdb
import pytest

from ml.ingestion import load_log
from ml.ingestion.raw_log import ingest_file

pytestmark = pytest.mark.slow


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema raw")
    yield c
    c.close()


def test_the_next_build_starts_from_the_earliest_load_not_built_on(con):
    load_log.record(con, "full.csv", False, 10, 0, 0, "2024-01-01 08:00:00")
    # The full load was never built on: whatever the run asks for, everything is rebuilt.
    assert load_log.rebuild_start(con, "2024-02-01") is None
    load_log.mark_built(con)
    assert load_log.rebuild_start(con, "2024-02-01") == "2024-02-01"

    load_log.record(con, "day-jan-10.csv", True, 3, 0, 0, "2024-01-10 09:30:00")  # run died
    load_log.record(con, "day-jan-20.csv", True, 3, 0, 0, "2024-01-20 00:00:00")  # run died
    assert load_log.rebuild_start(con, "2024-02-01") == "2024-01-10"
    assert load_log.rebuild_start(con, "2024-01-05") == "2024-01-05"  # already earlier
    assert load_log.rebuild_start(con, None) is None  # a full build covers everything
    load_log.mark_built(con)
    assert load_log.rebuild_start(con, "2024-02-01") == "2024-02-01"
    assert load_log.lineage(con) == "full.csv"  # appended days keep the source


def test_ingestion_logs_each_load_as_not_yet_built(con, tmp_path):
    header = "customer_id,transaction_ts,amount\n"
    (tmp_path / "a.csv").write_text(header + "1,2024-01-03,5\n1,2024-01-02 10:00,2\n")
    (tmp_path / "b.csv").write_text(header + "2,2024-01-09,5\n2,bad,1\n")
    ingest_file(con, tmp_path / "a.csv")
    load_log.mark_built(con)
    ingest_file(con, tmp_path / "b.csv", append=True)
    assert con.execute(
        "select source, mode, rows, rejected, first_ts::varchar, built from raw.loads order by 1"
    ).fetchall() == [
        ("a.csv", "replace", 2, 0, "2024-01-02 10:00:00", True),
        ("b.csv", "append", 1, 1, "2024-01-09 00:00:00", False),
    ]
    assert load_log.rebuild_start(con, "2024-01-10") == "2024-01-09"
