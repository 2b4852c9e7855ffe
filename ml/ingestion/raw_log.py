"""Load a transaction log (generated, or the user's CSV/Parquet) into the warehouse's raw schema.

The contract with users is three columns: ``customer_id``, ``transaction_ts`` (a date or a
timestamp) and ``amount``; ``transaction_id`` and ``quantity`` are optional. A file that breaks
the contract stops before anything is replaced; rows that break it are set aside in
``raw.rejected_transactions`` with a reason, and the good rows go on. How text becomes a
timestamp and an amount is ``input_rules``; what an id is, ``ml.common.customer_ids``.

Transaction ids are unique in ``raw.transactions``: a second row with an id already in the file
is rejected, and a row whose id is already loaded (a re-sent file) is skipped and counted, so
loading the same day twice changes nothing; a bad row already set aside is not set aside again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ml.common import customer_ids, warehouse
from ml.common.errors import FtiError
from ml.ingestion import input_rules, load_log

REQUIRED_COLUMNS = ("customer_id", "transaction_ts", "amount")
OPTIONAL_COLUMNS = ("transaction_id", "quantity")
# A timestamp this far past the load time is in the future whatever the file's time zone.
FUTURE_SLACK = "1 day"
CUSTOMER_COLUMNS = (
    "customer_id",
    "signup_date",
    "acquisition_channel",
    "country",
    "segment",
    "updated_at",
)
HISTORY_COLUMNS = ("customer_id", "updated_at", "country", "segment")
# A full load starts a new attribute history: the dbt snapshot of the old source must go too.
ATTRIBUTE_SNAPSHOT = "snapshots.customers_snapshot"


class InputError(FtiError, ValueError):
    """The input file cannot be used at all; nothing was changed."""


@dataclass(frozen=True)
class IngestResult:
    transactions: int
    rejected: int
    customers: int
    first_ts: str
    last_ts: str
    already_loaded: int = 0
    ignored_columns: tuple[str, ...] = ()


def _reader(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    literal = str(path).replace("'", "''")
    if suffix in (".csv", ".csv.gz", ".tsv", ".txt"):
        return f"read_csv('{literal}', all_varchar = true, header = true)"
    if suffix in (".parquet", ".pq"):
        return f"read_parquet('{literal}')"
    raise InputError(f"{path.name}: unsupported file type '{suffix}'; give a .csv or .parquet file")


def _stage_file(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Read the file into a temporary table with normalised column names, or raise InputError."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: the file is empty")
    try:
        con.execute(f"create or replace temp table _upload as select * from {_reader(path)}")
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise InputError(
            f"{path.name}: cannot be read as a table; is it CSV or Parquet? ({first_line})"
        ) from exc
    columns = [r[0] for r in con.execute("describe _upload").fetchall()]
    normalised = {c: c.strip().lower() for c in columns}
    missing = [c for c in REQUIRED_COLUMNS if c not in normalised.values()]
    if missing:
        raise InputError(
            f"{path.name}: missing required column(s) {', '.join(missing)}; "
            f"found {', '.join(columns) or 'none'}"
        )
    if con.execute("select count(*) from _upload").fetchone()[0] == 0:
        raise InputError(f"{path.name}: the file has a header but no rows")
    for original, name in normalised.items():
        if original != name:
            con.execute(f'alter table _upload rename column "{original}" to "{name}"')


def _publish_raw(
    con: duckdb.DuckDBPyConnection,
    customers_sql: str,
    history_sql: str,
    append: bool = False,
    source: str = "generated",
    zone: str = "UTC",
) -> IngestResult:
    """Replace (or, with ``append``, extend) the raw tables from ``_upload``, atomically.

    A row without a transaction_id gets one derived from its content and its occurrence
    among identical rows, so that loading the same file twice (say, a re-sent day) yields
    the same ids, which staging deduplicates, while two identical purchases stay two.
    """
    types = {r[0]: r[1] for r in con.execute("describe _upload").fetchall()}
    present = set(types)
    ignored = tuple(sorted(present - set(REQUIRED_COLUMNS) - set(OPTIONAL_COLUMNS)))
    given_id = (
        "nullif(trim(cast(transaction_id as varchar)), '')"
        if "transaction_id" in present
        else "null::varchar"
    )
    quantity = "try_cast(quantity as integer)" if "quantity" in present else "null::integer"
    customer = customer_ids.normalize_sql("customer_id")
    ts, ts_reason = input_rules.timestamp_sql(
        "transaction_ts", types["transaction_ts"], zone, "transaction_ts", "raw_transaction_ts"
    )
    amount, amount_reason = input_rules.amount_sql(
        "amount", types["amount"], "amount", "raw_amount"
    )
    # Text is read in the file's zone; everything stored, and compared, is UTC.
    con.execute(f"set TimeZone = '{check_zone(con, zone)}'")
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists raw")
        con.execute(
            f"""
            create or replace temp table _typed as
            select
                _row,
                coalesce(
                    {given_id},
                    'h' || md5(concat_ws('|', raw_customer_id, raw_transaction_ts, raw_amount,
                        row_number() over (partition by raw_customer_id, raw_transaction_ts,
                        raw_amount order by _row)))
                ) as transaction_id,
                customer_id,
                transaction_ts,
                amount,
                {quantity} as quantity,
                raw_customer_id,
                raw_transaction_ts,
                raw_amount,
                -- A re-sent bad row is recognised by its content and its place among
                -- identical rows, as a derived transaction id is.
                md5(concat_ws('|', raw_customer_id, raw_transaction_ts, raw_amount,
                    row_number() over (partition by raw_customer_id, raw_transaction_ts,
                    raw_amount order by _row))) as row_key,
                coalesce(
                    {customer_ids.problem_sql("customer_id")},
                    {ts_reason},
                    {amount_reason},
                    case
                        when transaction_ts > timezone('UTC', now()) + interval '{FUTURE_SLACK}'
                            then 'transaction_ts in the future'
                        when {given_id} is not null and row_number() over (
                            partition by {given_id} order by _row) > 1
                            then 'duplicate transaction_id'
                    end
                ) as reject_reason
            from (
                select * exclude (customer_id, transaction_ts, amount),
                       {customer} as customer_id,
                       {ts} as transaction_ts,
                       {amount} as amount
                from (
                    select * exclude (customer_id, transaction_ts, amount),
                           customer_id, transaction_ts, amount,
                           cast(customer_id as varchar) as raw_customer_id,
                           cast(transaction_ts as varchar) as raw_transaction_ts,
                           cast(amount as varchar) as raw_amount,
                           row_number() over () as _row
                    from _upload
                )
            )
            """
        )
        con.execute("set TimeZone = 'UTC'")
        exists = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        raw_tables = {"transactions", "rejected_transactions", "customers", "customer_history"}
        append = append and raw_tables <= exists
        # A re-sent row (its id already loaded) is neither new nor bad: it is skipped; a bad
        # row already set aside is not set aside again.
        loaded = (
            "transaction_id in (select transaction_id from raw.transactions)" if append else "false"
        )
        recorded = "false"
        if append:
            con.execute(
                "alter table raw.rejected_transactions add column if not exists row_key varchar"
            )
            recorded = (
                "row_key in (select row_key from raw.rejected_transactions "
                "where row_key is not null)"
            )
        good_rows = (
            "select transaction_id, customer_id, transaction_ts, amount, quantity "
            f"from _typed where reject_reason is null and not ({loaded}) order by _row"
        )
        literal = source.replace("'", "''")
        bad_rows = (
            f"select '{literal}' as source, _row as source_row, customer_id, "
            "raw_transaction_ts as transaction_ts, raw_amount as amount, reject_reason, "
            "timezone('UTC', now()) as rejected_at, row_key "
            f"from _typed where reject_reason is not null and not ({recorded}) order by _row"
        )
        batch = con.execute(
            f"select count(*) filter (where reject_reason is null and not ({loaded})), "
            f"count(*) filter (where reject_reason is not null and not ({recorded})), "
            f"count(*) filter (where reject_reason is null and {loaded}), "
            "min(transaction_ts) filter (where reject_reason is null)::varchar, "
            "max(transaction_ts) filter (where reject_reason is null)::varchar from _typed"
        ).fetchall()[0]
        if batch[0] + batch[2] == 0:
            reasons = con.execute(
                "select reject_reason, count(*) from _typed group by 1 order by 2 desc limit 3"
            ).fetchall()
            raise InputError(
                f"{source}: no usable rows; every row was rejected ("
                + ", ".join(f"{n} {reason}" for reason, n in reasons)
                + ")"
            )
        if append:
            con.execute(f"insert into raw.transactions {good_rows}")
            con.execute(f"insert into raw.rejected_transactions by name {bad_rows}")
        else:
            con.execute(f"create or replace table raw.transactions as {good_rows}")
            con.execute(f"create or replace table raw.rejected_transactions as {bad_rows}")
            con.execute(f"create or replace table raw.customers as {customers_sql}")
            con.execute(f"create or replace table raw.customer_history as {history_sql}")
            con.execute(f"drop table if exists {ATTRIBUTE_SNAPSHOT}")
        customers = con.execute("select count(*) from raw.customers").fetchall()[0][0]
        load_log.record(con, source, append, batch[0], batch[1], batch[2], batch[3])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.execute("set TimeZone = 'UTC'")
    return IngestResult(batch[0], batch[1], customers, batch[3], batch[4], batch[2], ignored)


def check_zone(con: duckdb.DuckDBPyConnection, zone: str) -> str:
    """``zone`` if it names a time zone (IANA, e.g. ``Europe/Berlin``, or ``UTC``), else
    InputError: a file's zone is never guessed."""
    known = con.execute("select count(*) from pg_timezone_names() where name = ?", [zone])
    if not known.fetchone()[0]:
        raise InputError(
            f"unknown time zone {zone!r}: give an IANA name such as Europe/Berlin, or UTC"
        )
    return zone


_NO_CUSTOMERS = (
    "select null::varchar as customer_id, null::date as signup_date, "
    "null::varchar as acquisition_channel, null::varchar as country, "
    "null::varchar as segment, null::timestamp as updated_at where false"
)
_NO_HISTORY = (
    "select null::varchar as customer_id, null::timestamp as updated_at, "
    "null::varchar as country, null::varchar as segment where false"
)


def validate_file(path: Path | str, zone: str = "UTC") -> str | None:
    """Raise InputError when the file cannot be used, without touching the warehouse: the
    whole load is rehearsed in memory, so a file the run would refuse is refused here.

    Returns the date of the earliest good transaction, where an incremental build of the new
    rows must start.
    """
    with warehouse.connect() as con:
        _stage_file(con, Path(path))
        result = _publish_raw(con, _NO_CUSTOMERS, _NO_HISTORY, source=Path(path).name, zone=zone)
        return None if result.first_ts is None else result.first_ts[:10]


def ingest_file(
    con: duckdb.DuckDBPyConnection, path: Path | str, append: bool = False, zone: str = "UTC"
) -> IngestResult:
    """Ingest a user's transaction file (it carries no customer attributes); with ``append``
    its rows are added to what is loaded, as for a new day's file. Timestamps without an
    offset or zone are in ``zone``."""
    _stage_file(con, Path(path))
    return _publish_raw(
        con, _NO_CUSTOMERS, _NO_HISTORY, append=append, source=Path(path).name, zone=zone
    )


def ingest_frames(
    con: duckdb.DuckDBPyConnection,
    transactions: pd.DataFrame,
    customers: pd.DataFrame,
    customer_history: pd.DataFrame | None = None,
    source: str = "generated",
) -> IngestResult:
    """Ingest in-memory frames (the generator's output) through the same validation path."""
    con.register("_tx_frame", transactions)
    con.register("_customer_frame", customers[list(CUSTOMER_COLUMNS)])
    if customer_history is not None:
        con.register("_history_frame", customer_history[list(HISTORY_COLUMNS)])
    try:
        con.execute("create or replace temp table _upload as select * from _tx_frame")
        return _publish_raw(
            con,
            "select customer_id::varchar as customer_id, signup_date::date as signup_date, "
            "acquisition_channel::varchar as acquisition_channel, country::varchar as country, "
            "segment::varchar as segment, updated_at::timestamp as updated_at "
            "from _customer_frame",
            _NO_HISTORY
            if customer_history is None
            else "select customer_id::varchar as customer_id, "
            "updated_at::timestamp as updated_at, country::varchar as country, "
            "segment::varchar as segment from _history_frame",
            source=source,
        )
    finally:
        for frame in ("_tx_frame", "_customer_frame", "_history_frame"):
            con.unregister(frame)


def validate_customers(path: Path | str) -> int:
    """Raise InputError when the attribute file cannot be used, without touching the warehouse;
    returns its number of customers."""
    with warehouse.connect() as con:
        con.execute("create schema raw")
        con.execute(f"create table raw.customers as {_NO_CUSTOMERS}")
        return ingest_customers(con, path)


def ingest_customers(con: duckdb.DuckDBPyConnection, path: Path | str) -> int:
    """Upsert the current customer attributes from a CSV/Parquet export of the CRM.

    Needs ``customer_id`` and ``updated_at``; ``country``, ``segment``, ``signup_date`` and
    ``acquisition_channel`` are optional. A row replaces a customer's row only when its
    ``updated_at`` is newer, so re-sending an old export changes nothing. The dbt snapshot
    of ``raw.customers`` then records each change as a new version, valid from its
    ``updated_at``. Returns the number of rows that changed a customer.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        con.execute(f"create or replace temp table _attributes as select * from {_reader(path)}")
    except duckdb.Error as exc:
        raise InputError(f"{path.name}: cannot be read as a table ({exc})") from exc
    present = {r[0].strip().lower(): r[0] for r in con.execute("describe _attributes").fetchall()}
    missing = [c for c in ("customer_id", "updated_at") if c not in present]
    if missing:
        raise InputError(f"{path.name}: missing required column(s) {', '.join(missing)}")

    def column(name: str, sql_type: str) -> str:
        if name not in present:
            return f"null::{sql_type}"
        quoted = present[name].replace('"', '""')
        return f"try_cast(nullif(trim(cast(\"{quoted}\" as varchar)), '') as {sql_type})"

    rows = f"""
        select {column("customer_id", "varchar")} as customer_id,
               {column("signup_date", "date")} as signup_date,
               {column("acquisition_channel", "varchar")} as acquisition_channel,
               {column("country", "varchar")} as country,
               {column("segment", "varchar")} as segment,
               {column("updated_at", "timestamp")} as updated_at
        from _attributes
    """
    bad = con.execute(
        f"select count(*) from ({rows}) where customer_id is null or updated_at is null"
    ).fetchall()[0][0]
    if bad:
        raise InputError(
            f"{path.name}: {bad} row(s) without a customer_id or a parseable updated_at"
        )
    con.execute("begin transaction")
    try:
        con.execute(
            f"""
            create or replace temp table _incoming as
            select * from ({rows})
            qualify row_number() over (partition by customer_id order by updated_at desc) = 1
            """
        )
        con.execute(
            """
            create or replace temp table _changed as
            select i.customer_id,
                   coalesce(i.signup_date, c.signup_date) as signup_date,
                   coalesce(i.acquisition_channel, c.acquisition_channel) as acquisition_channel,
                   coalesce(i.country, c.country) as country,
                   coalesce(i.segment, c.segment) as segment,
                   i.updated_at
            from _incoming as i
            left join raw.customers as c using (customer_id)
            where c.customer_id is null or i.updated_at > c.updated_at
            """
        )
        con.execute(
            "delete from raw.customers where customer_id in (select customer_id from _changed)"
        )
        con.execute("insert into raw.customers by name select * from _changed")
        changed = con.execute("select count(*) from _changed").fetchall()[0][0]
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return changed
