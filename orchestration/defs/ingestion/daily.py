"""Daily partitions: a new day's transaction file lands, its partition is materialized, and the
features are rebuilt incrementally from that day. A backfill of a range of days runs as one
run (one dbt invocation, incremental from the range's first day).

Files land in ``FTI_HOME/landing/<YYYY-MM-DD>.csv`` (or ``.parquet``), same columns as for
``fti demo --transactions``. ``FTI_PARTITION_START`` sets the first partition (default
2023-01-01, the start of the generated data).
"""

import datetime as dt
import warnings
from pathlib import Path

import dagster as dg
from pydantic import Field

from ml.common import settings
from ml.ingestion import raw_log
from ml.ingestion.raw_log import InputError
from orchestration.lib.keys import DAILY_TRANSACTIONS, WAREHOUSE_POOL
from orchestration.lib.resources import FtiHome, Warehouse

DAILY = dg.DailyPartitionsDefinition(start_date=settings.partition_start(), end_offset=1)


def day_range(first: str, last: str | None) -> tuple[str, str]:
    """``first``..``last`` (default ``first``) as partition keys of ``DAILY``, refused with the
    reason when they are not days, come in the wrong order, or lie outside the partitions
    (Dagster accepts a range ending past the last one and fails deep in the run on one
    starting before the first)."""

    def as_day(text: str) -> dt.date:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise InputError(f"{text} is not a day (YYYY-MM-DD)") from None

    start, end = as_day(first), as_day(last or first)
    if end < start:
        raise InputError(f"the last day {end} is before the first, {start}")
    earliest = DAILY.start.date()
    latest = dt.date.fromisoformat(DAILY.get_last_partition_key())
    if start < earliest:
        raise InputError(
            f"{start} is before the first daily partition, {earliest} "
            f"(set by {settings.PARTITION_START})"
        )
    if end > latest:
        raise InputError(f"{end} is after the last daily partition, {latest} (today)")
    return start.isoformat(), end.isoformat()


SUFFIXES = (".csv", ".parquet")
ATTRIBUTES = ".customers"  # <day>.customers.csv: CRM rows changed that day (optional)


def landing_files(landing: Path, days: list[str], kind: str = "") -> list[Path]:
    """The landed file of each day that has one (a day without a file had no sales);
    ``kind=ATTRIBUTES`` for the days' customer attribute files."""
    found = []
    for day in days:
        for suffix in SUFFIXES:
            path = landing / f"{day}{kind}{suffix}"
            if path.exists():
                found.append(path)
                break
    return found


class DailyConfig(dg.Config):
    timezone: str = Field(
        default="UTC",
        description="Time zone of the landed files' timestamps that carry no offset or zone "
        "name (an IANA name such as Europe/Berlin); the warehouse stores UTC.",
    )


def incremental_start(tags: dict[str, str]) -> str | None:
    """The first day of a partitioned run (single partition or range), from its tags."""
    start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    return None if start is None else dt.date.fromisoformat(start).isoformat()


# A backfill of many days is one run, so dbt builds incrementally once from the first day.
# `backfill_policy` is a beta parameter of `@asset`; its warning is about API stability only.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)

    @dg.asset(
        key=DAILY_TRANSACTIONS,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="ingestion",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
    )
    def daily_transactions(
        context: dg.AssetExecutionContext,
        config: DailyConfig,
        fti_home: FtiHome,
        warehouse: Warehouse,
    ) -> dg.MaterializeResult:
        """The landed files of the run's days, appended to raw.transactions (a file sent twice
        adds nothing: ids without a transaction_id derive from the row's content, and rows
        whose id is already loaded are skipped); a day's ``<day>.customers.csv``, if any,
        upserts customer attributes (the dbt snapshot records the changes)."""
        keys = context.partition_keys
        landing = fti_home.paths.home / "landing"
        files = landing_files(landing, keys)
        attributes = landing_files(landing, keys, ATTRIBUTES)
        for path in files:  # refuse the whole batch before changing anything
            raw_log.validate_file(path, config.timezone)
        for path in attributes:
            raw_log.validate_customers(path)
        appended = rejected = skipped = changed = 0
        with warehouse.connect() as con:
            for path in files:
                result = raw_log.ingest_file(con, path, append=True, zone=config.timezone)
                appended += result.transactions
                rejected += result.rejected
                skipped += result.already_loaded
            for path in attributes:
                changed += raw_log.ingest_customers(con, path)
        context.log.info(f"{len(files)} landed file(s) for {keys[0]}..{keys[-1]}: {appended} rows")
        return dg.MaterializeResult(
            metadata={
                "days": len(keys),
                "files": len(files),
                "appended_rows": appended,
                "rejected_rows": rejected,
                "already_loaded_rows": skipped,
                "attribute_files": len(attributes),
                "customers_changed": changed,
            }
        )
