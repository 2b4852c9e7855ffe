"""`raw.loads`: every load since the last full load, and whether dbt has built on it yet.

Two readers need it. The feature quality gate compares builds of the same source (the source
of the last full load; appended days keep it). And an incremental build must start early
enough: when a run appends a day and dies before dbt finishes, the day's rows are in
`raw.transactions` but no feature has seen them, so the next incremental build starts from
the earliest load dbt has not built on, not only from its own new day.
"""

from __future__ import annotations

import duckdb

_COLUMNS = (
    "loaded_at timestamp, source varchar, mode varchar, rows bigint, rejected bigint, "
    "already_loaded bigint, first_ts timestamp, built boolean"
)


def record(
    con: duckdb.DuckDBPyConnection,
    source: str,
    append: bool,
    rows: int,
    rejected: int,
    already_loaded: int,
    first_ts: str | None,
) -> None:
    """Log a load, in the caller's transaction; a full load starts the log over."""
    create = "create table if not exists" if append else "create or replace table"
    con.execute(f"{create} raw.loads ({_COLUMNS})")
    con.execute(
        "insert into raw.loads values (localtimestamp, ?, ?, ?, ?, ?, ?::timestamp, false)",
        [source, "append" if append else "replace", rows, rejected, already_loaded, first_ts],
    )


def lineage(con: duckdb.DuckDBPyConnection) -> str | None:
    """The source of the last full load."""
    row = con.execute(
        "select source from raw.loads where mode = 'replace' order by loaded_at desc limit 1"
    ).fetchone()
    return None if row is None else row[0]


def rebuild_start(con: duckdb.DuckDBPyConnection, requested: str | None) -> str | None:
    """The day an incremental build must start from (None: rebuild everything), given the
    day the run asked for: earlier if a load dbt has not built on reaches further back, and a
    full rebuild if that load replaced the data."""
    if requested is None:
        return None
    full, earliest = con.execute(
        "select coalesce(bool_or(mode = 'replace'), false), min(first_ts)::date::varchar "
        "from raw.loads where not built"
    ).fetchone()
    if full:
        return None
    return min(requested, earliest) if earliest else requested


def mark_built(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("update raw.loads set built = true where not built")
