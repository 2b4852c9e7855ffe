import duckdb
import pandas as pd
import pytest

from ml.ingestion.raw_log import InputError, ingest_file, validate_file


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_user_csv_with_dates_and_bad_rows(tmp_path, con):
    path = write(
        tmp_path,
        "log.csv",
        "Customer_ID,transaction_ts,amount,extra\n"
        "1,2024-01-01,10,x\n"
        "1,2024-01-01,12.5,x\n"
        "2,2024-01-02 10:00:00,5.5,x\n"
        ",2024-01-01,3,x\n"
        "3,not a date,1,x\n"
        "4,2024-01-01,-1,x\n"
        "5,2024-01-01,abc,x\n",
    )
    result = ingest_file(con, path)
    assert (result.transactions, result.rejected, result.customers) == (3, 4, 0)
    good = con.execute(
        "select customer_id, transaction_ts::varchar, amount from raw.transactions order by 3"
    ).fetchall()
    assert good == [
        ("2", "2024-01-02 10:00:00", 5.5),
        ("1", "2024-01-01 00:00:00", 10.0),
        ("1", "2024-01-01 00:00:00", 12.5),
    ]
    reasons = con.execute(
        "select source_row, reject_reason from raw.rejected_transactions order by 1"
    ).fetchall()
    assert reasons == [
        (4, "missing customer_id"),
        (5, "unparseable transaction_ts"),
        (6, "amount not positive"),
        (7, "unparseable amount"),
    ]
    # Without a transaction_id column, ids are made unique per row (same-day repeats survive).
    assert (
        con.execute("select count(distinct transaction_id) from raw.transactions").fetchone()[0]
        == 3
    )


def test_parquet_with_ids_and_quantity(tmp_path, con):
    frame = pd.DataFrame(
        {
            "transaction_id": ["a", "b"],
            "customer_id": [17, 18],
            "transaction_ts": pd.to_datetime(["2024-05-01 08:00", "2024-05-02 09:30"]),
            "amount": [1.25, 2.5],
            "quantity": [3, 1],
        }
    )
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    ingest_file(con, path)
    rows = con.execute("select * from raw.transactions order by transaction_id").fetchall()
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [("a", "17", 1.25, 3), ("b", "18", 2.5, 1)]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("log.csv", "customer_id,amount\n1,2\n", "missing required column(s) transaction_ts"),
        ("log.csv", "", "the file is empty"),
        ("log.csv", "customer_id,transaction_ts,amount\n", "no rows"),
        ("log.json", '{"a": 1}', "unsupported file type '.json'"),
        ("log.parquet", "this is not parquet", "cannot be read as a table"),
    ],
)
def test_unusable_file_is_refused_and_changes_nothing(tmp_path, con, name, text, message):
    good = write(tmp_path, "good.csv", "customer_id,transaction_ts,amount\n1,2024-01-01,10\n")
    ingest_file(con, good)
    bad = write(tmp_path, name, text)
    with pytest.raises(InputError) as err:
        validate_file(bad)
    assert message in str(err.value)
    with pytest.raises(InputError):
        ingest_file(con, bad)
    assert con.execute("select count(*) from raw.transactions").fetchone()[0] == 1


def test_file_with_only_bad_rows_changes_nothing(tmp_path, con):
    ingest_file(
        con, write(tmp_path, "good.csv", "customer_id,transaction_ts,amount\n1,2024-01-01,10\n")
    )
    with pytest.raises(InputError, match="every row was rejected"):
        ingest_file(con, write(tmp_path, "bad.csv", "customer_id,transaction_ts,amount\n1,x,10\n"))
    assert con.execute("select count(*) from raw.transactions").fetchone()[0] == 1


def test_append_adds_rows_and_a_resent_file_changes_nothing(tmp_path, con):
    day1 = write(
        tmp_path, "d1.csv", "customer_id,transaction_ts,amount\n1,2024-01-01,10\n1,2024-01-01,10\n"
    )
    day2 = write(tmp_path, "d2.csv", "customer_id,transaction_ts,amount\n2,2024-01-02,5\nx,bad,1\n")
    ingest_file(con, day1)
    result = ingest_file(con, day2, append=True)
    assert (result.transactions, result.rejected, result.first_ts) == (1, 1, "2024-01-02 00:00:00")
    resent = ingest_file(con, day1, append=True)  # the same day sent again
    assert (resent.transactions, resent.already_loaded, resent.rejected) == (0, 2, 0)
    ids = con.execute("select transaction_id from raw.transactions order by all").fetchall()
    assert len(ids) == 3 and len(set(ids)) == 3  # two identical purchases stay two
    assert con.execute("select count(*) from raw.rejected_transactions").fetchone()[0] == 1
    assert validate_file(day2) == "2024-01-02"


def test_every_kind_of_bad_row_is_set_aside_with_its_reason(tmp_path, con):
    """One file with each problem the contract names; the good rows go on."""
    path = write(
        tmp_path,
        "mixed.csv",
        "transaction_id,customer_id,transaction_ts,amount,store,note\n"
        "t1,1,2024-03-01 10:00,10.00,north,ok\n"  # good
        "t2,,2024-03-01,5,north,\n"  # empty customer id
        "t3,  ,2024-03-01,5,north,\n"  # blank customer id
        "t4,2,2024-02-30,5,north,\n"  # no such date
        "t5,2,yesterday,5,north,\n"  # not a date
        "t6,2,2024-03-01,1O.5,north,\n"  # letter O for zero
        "t7,2,2024-03-01,0,north,\n"  # zero
        "t8,2,2024-03-01,-3,north,\n"  # negative
        "t9,2,2099-01-01,5,north,\n"  # future
        "t1,3,2024-03-02,7,south,\n"  # duplicate id (the first one wins)
        "t10,3,2024-03-02,inf,south,\n"  # not finite
        "t11,3,2024-03-02 23:59:59,7.25,south,ok\n",  # good
    )
    result = ingest_file(con, path)
    assert (result.transactions, result.rejected) == (2, 10)
    assert result.ignored_columns == ("note", "store")
    assert con.execute(
        "select transaction_id, customer_id, amount from raw.transactions order by 1"
    ).fetchall() == [("t1", "1", 10.0), ("t11", "3", 7.25)]
    rejected = con.execute(
        "select source, source_row, transaction_ts, amount, reject_reason "
        "from raw.rejected_transactions order by source_row"
    ).fetchall()
    assert [(r[1], r[4]) for r in rejected] == [
        (2, "missing customer_id"),
        (3, "missing customer_id"),
        (4, "unparseable transaction_ts"),
        (5, "unparseable transaction_ts"),
        (6, "unparseable amount"),
        (7, "amount not positive"),
        (8, "amount not positive"),
        (9, "transaction_ts in the future"),
        (10, "duplicate transaction_id"),
        (11, "non-finite amount"),
    ]
    # The raw text is kept, so the reason can be checked against what was sent.
    assert rejected[2][2:4] == ("2024-02-30", "5") and rejected[4][3] == "1O.5"
    assert {r[0] for r in rejected} == {"mixed.csv"}


def test_rejected_rows_accumulate_across_appended_files(tmp_path, con):
    header = "customer_id,transaction_ts,amount\n"
    ingest_file(con, write(tmp_path, "a.csv", header + "1,2024-01-01,10\n1,x,1\n"))
    ingest_file(con, write(tmp_path, "b.csv", header + "2,2024-01-02,4\n2,2024-01-02,-4\n"), True)
    assert con.execute(
        "select source, source_row, reject_reason from raw.rejected_transactions order by 1"
    ).fetchall() == [
        ("a.csv", 2, "unparseable transaction_ts"),
        ("b.csv", 2, "amount not positive"),
    ]


def test_a_file_of_only_resent_rows_is_a_no_op_not_an_error(tmp_path, con):
    header = "transaction_id,customer_id,transaction_ts,amount\n"
    day = write(tmp_path, "d.csv", header + "a,1,2024-01-01,3\n")
    ingest_file(con, day)
    before = con.execute("select * from raw.transactions").fetchall()
    again = ingest_file(con, day, append=True)
    assert (again.transactions, again.already_loaded) == (0, 1)
    assert con.execute("select * from raw.transactions").fetchall() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("customer_id,amount\n1,2\n", "missing required column(s) transaction_ts"),
        ("", "the file is empty"),
        ("\x89PNG\r\n\x1a\n\x00\x00binary", "cannot be read as a table; is it CSV or Parquet?"),
        ("customer_id,transaction_ts,amount\n1,someday,-3\n", "no usable rows"),
    ],
)
def test_an_unusable_update_stops_before_anything_changes(
    built_home, tmp_path, capsys, content, message
):
    from ml.inference import publication
    from orchestration.cli import main

    bad = tmp_path / "new_day.csv"
    bad.write_text(content)
    before = (publication.read_manifest(built_home), built_home.warehouse.stat().st_mtime_ns)
    code = main(["update", "--transactions", str(bad)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert (
        publication.read_manifest(built_home),
        built_home.warehouse.stat().st_mtime_ns,
    ) == before
