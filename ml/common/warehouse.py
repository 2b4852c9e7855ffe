"""All access to the DuckDB warehouse goes through here.

A DuckDB file takes one writer process at a time and refuses every other opener meanwhile, so
callers hold connections briefly and never across a dbt invocation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ml.common import settings


@contextmanager
def connect(
    path: Path | str = ":memory:", read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection bounded like every other the project opens: at most
    ``settings.duckdb_memory_limit()``, spilling large sorts, joins and windows to
    ``FTI_HOME/duckdb_spill`` instead of growing with the data."""
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute(f"set memory_limit = '{settings.duckdb_memory_limit()}'")
    # Connections to one file share a database, whose spill folder cannot change once used.
    spill = str(settings.paths().duckdb_spill)
    if con.execute("select current_setting('temp_directory')").fetchall()[0][0] != spill:
        con.execute(f"set temp_directory = '{spill}'")
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    """Whether ``schema.name`` is a table or view in the attached database."""
    schema, name = relation.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def table_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of every table outside the system schemas, keyed ``schema.table``: base
    tables, and the views over the Parquet tables of the Spark engine (``ml.engines``)."""
    tables = con.execute(
        """
        select table_schema, table_name from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('information_schema', 'pg_catalog')
        union
        select schema_name, view_name from duckdb_views()
        where not internal and sql ilike '%read_parquet(%'
        order by 1, 2
        """
    ).fetchall()
    return {
        f"{schema}.{name}": con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
        for schema, name in tables
    }
