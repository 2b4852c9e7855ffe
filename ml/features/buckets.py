"""Customer buckets for DuckDB statements whose working set outgrows the memory limit.

Joins of customers x snapshot dates (the training set's retrieval: 130M label rows at 50M
transactions) sort both sides; one statement over all of it spills many times the memory limit
to disk. Customers never meet each other in these joins, so running the same statement once per
slice of customers gives exactly the same rows with a working set that fits in memory. This is
the Python side of dbt_project/macros/buckets.sql (same sizing rule, same hash of the id).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import duckdb

_UNITS = {
    "bytes": 1,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
}


@dataclass(frozen=True)
class Bucket:
    """One slice of the rows: those whose ``column``'s DuckDB hash is ``index`` modulo
    ``count``."""

    column: str
    index: int
    count: int

    def holds(self, expression: str) -> str:
        """A SQL predicate true for the rows in this bucket; ``expression`` is the column as
        the query names it (of the column's type: a hash depends on the type)."""
        return f"hash({expression}) % {self.count} = {self.index}"


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The connection's memory limit; DuckDB reports it for people ('4.6 GiB')."""
    shown = con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    match = re.fullmatch(r"([0-9.]+)\s*([A-Za-z]+)", shown.strip())
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(f"DuckDB's memory_limit reads {shown!r}, not a size")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def bucket_count(
    con: duckdb.DuckDBPyConnection, rows: int, bytes_per_row: int, memory_share: float
) -> int:
    """As many buckets as keep each one's working set (``bytes_per_row`` per row, measured)
    within ``memory_share`` of the memory limit; at least one."""
    budget = memory_limit_bytes(con) * memory_share
    return max(1, math.ceil(rows * bytes_per_row / budget))


def buckets(column: str, count: int) -> list[Bucket]:
    return [Bucket(column, index, count) for index in range(count)]
