"""Point-in-time retrieval: for each spine row, each view's latest feature row known at that time.

When is a feature row known? A view whose event-time column is a DATE describes the state at
the *end* of that day (a snapshot dated D counts every purchase on D), so it becomes available
at D + 1 day, 00:00. A TIMESTAMP event time is available at that instant. A spine time given
as a DATE likewise means the end of that day. So a spine dated D sees the snapshot dated D,
while a spine at D 10:00 sees only snapshots up to D - 1: no row ever sees purchases made
after it.

A feature row older than the view's ``max_age_days`` at the spine time (age measured from
availability) counts as missing. Every spine row gives exactly one output row, in spine order,
with the spine's columns untouched followed by ``<view>__<feature>`` columns.

The query is one DuckDB statement with one ASOF join per view; DuckDB streams it, and
``write_historical_features`` copies it straight to a file without building a DataFrame.

Text entity ids are joined on their 64-bit hash: an ASOF join on an integer key runs about a
quarter faster than on text (bench/RESULTS.md). Every match is checked against the id itself;
should two ids ever share a hash, the query fails and ``retrieve`` runs it again keyed on the
ids, so a collision costs time, never a wrong row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd

from ml.common.errors import FtiError
from ml.features.buckets import Bucket
from ml.features.views import FeatureView

SPINE_TIME = "event_timestamp"
_ROW = "__fti_row"
_TIME = "__fti_time"
# The join key of a text entity id, and what the query raises when it meets two ids sharing it.
_KEY = "hash({})"
_COLLISION = "fti: two entity ids share a join key"
_HASHED_TYPES = ("VARCHAR",)
T = TypeVar("T")


class SpineError(FtiError, ValueError):
    """The spine cannot be used; the message names the problem."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_types(con: duckdb.DuckDBPyConnection, view: FeatureView) -> tuple[str, str]:
    """The types of a view's entity and timestamp columns (one catalog lookup per view:
    fixed costs are most of scoring a small population)."""
    try:
        types = {r[0]: r[1] for r in con.execute(f"describe {view.relation}").fetchall()}
    except duckdb.CatalogException as exc:
        raise SpineError(
            f"{view.relation} does not exist: is the feature view materialized?"
        ) from exc
    for column in (view.entity, view.timestamp_column):
        if column not in types:
            raise SpineError(f"{view.relation}.{column} does not exist")
    return types[view.entity], types[view.timestamp_column]


def check_spine(columns: list[str]) -> None:
    """Refuse a spine without a time column or with reserved names (both engines)."""
    if SPINE_TIME not in columns:
        raise SpineError(f"the spine has no {SPINE_TIME} column; found {', '.join(columns)}")
    clashes = [c for c in columns if c.startswith("__fti_")]
    if clashes:
        raise SpineError(f"spine column names starting with __fti_ are reserved: {clashes}")


def _available_at(column: str, data_type: str) -> str:
    if data_type.upper() == "DATE":
        return f"(cast({column} as timestamp) + interval 1 day)"
    return f"cast({column} as timestamp)"


def _usable_rows(
    view: FeatureView,
    ts_type: str,
    available_at: str,
    first: datetime | None,
    last: datetime | None,
) -> str:
    """A filter dropping the view rows no spine row can use: known after the last spine time,
    or too old for the first one. Scoring's spine has a single time, so its joins see one
    snapshot instead of the whole timeline.

    The exact bounds are on the ``available_at`` expression. A DATE column's is shifted by a
    day, which DuckDB cannot push into the scan; a looser copy on the bare column can be, and
    cuts the scan of the timeline (bench/RESULTS.md).
    """
    if last is None:  # an empty spine
        return "false"
    is_date = ts_type.upper() == "DATE"
    column = _quote(view.timestamp_column)
    bounds = [f"{available_at} <= timestamp '{last}'"]
    if is_date:  # known from the next midnight: never later than last's day
        bounds.append(f"{column} <= date '{last.date()}'")
    if view.max_age_days is not None:
        oldest = first - timedelta(days=int(view.max_age_days))
        bounds.append(f"{available_at} >= timestamp '{oldest}'")
        if is_date:
            bounds.append(f"{column} >= date '{(oldest - timedelta(days=1)).date()}'")
    return " and ".join(bounds)


def retrieval_sql(
    con: duckdb.DuckDBPyConnection,
    spine: str,
    selection: dict[FeatureView, list[str]],
    in_spine_order: bool = True,
    bucket: Bucket | None = None,
    hashed_keys: bool = True,
) -> str:
    """The retrieval query over ``spine`` (a relation name visible to ``con``); run it through
    ``retrieve``, which handles the hashed keys' rare collision. Without
    ``in_spine_order`` the rows come in no particular order: a table built from it (the
    training set) skips a sort of every row, which at 130M rows spills tens of GB.

    With ``bucket``, only the spine rows in that bucket of their ``bucket.column`` (and the rows
    they can match in each view keyed by that column); the buckets' results together are the
    whole spine's (ml/features/buckets.py)."""
    spine_columns = {r[0]: r[1] for r in con.execute(f"describe {spine}").fetchall()}
    check_spine(list(spine_columns))
    if bucket is not None:
        if bucket.column not in spine_columns:
            raise SpineError(f"the spine has no {bucket.column} column to bucket by")
        spine = f"(select * from {spine} where {bucket.holds(_quote(bucket.column))})"
    spine_time = _available_at(_quote(SPINE_TIME), spine_columns[SPINE_TIME])
    # The spine's time range as literals: DuckDB filters the views' scans with constants, not
    # with a subquery's result (see _usable_rows).
    bounds = f"select min({spine_time}), max({spine_time}) from {spine}"
    first, last = con.execute(bounds).fetchall()[0]

    # The spine keeps its columns and gains, per view, the join key (and its id typed as the
    # view's, where the types differ); each view's ASOF join adds its matched row to it, in
    # one chain of joins.
    keyed = ["*", f"{spine_time} as {_TIME}"]
    if in_spine_order:
        keyed.append(f"row_number() over () as {_ROW}")
    picked = ["spine.*"]
    joins = []
    selects = ["columns(lambda c: not starts_with(c, '__fti_'))"]
    for i, (view, features) in enumerate(selection.items()):
        if view.entity not in spine_columns:
            raise SpineError(
                f"the spine has no {view.entity} column, the entity of feature view {view.name}"
            )
        entity_type, ts_type = _column_types(con, view)
        alias, prefix = f"v{i}", f"__fti_v{i}__"
        # The spine's id typed as the view's: its own column when the types already agree
        # (no copy of every id carried through the joins), else a cast copy.
        same_type = entity_type == spine_columns[view.entity]
        spine_entity = (
            _quote(view.entity)
            if same_type
            else f"try_cast({_quote(view.entity)} as {entity_type})"
        )
        spine_id = f"spine.{_quote(view.entity)}" if same_type else f"spine.__fti_entity_{i}"
        hashed = hashed_keys and entity_type in _HASHED_TYPES
        if hashed:
            if not same_type:
                keyed.append(f"{spine_entity} as __fti_entity_{i}")
            keyed.append(f"{_KEY.format(spine_entity)} as __fti_key_{i}")
            view_key = _KEY.format(_quote(view.entity))
            # A match on a shared hash is some other id's row: fail; `retrieve` runs again.
            available = (
                f"case when {alias}.__entity is distinct from {spine_id} "
                f"and {alias}.__entity is not null then error('{_COLLISION}') "
                f"else {alias}.__available_at end"
            )
        else:
            keyed.append(f"{spine_entity} as __fti_key_{i}")
            view_key = _quote(view.entity)
            available = f"{alias}.__available_at"
        available_at = _available_at(_quote(view.timestamp_column), ts_type)
        usable = _usable_rows(view, ts_type, available_at, first, last)
        same_ids = bucket is not None and view.entity == bucket.column
        if same_ids and same_type:  # the same hashes
            usable += f" and {bucket.holds(_quote(view.entity))}"
        joins.append(
            f"""asof left join (
                select {_quote(view.entity)} as __entity, {view_key} as __key,
                       {available_at} as __available_at,
                       {", ".join(_quote(f) for f in features)}
                from {view.relation}
                where {usable}
            ) as {alias}
            on spine.__fti_key_{i} = {alias}.__key and spine.{_TIME} >= {alias}.__available_at"""
        )
        picked.append(f"{available} as {_quote(prefix + '__available_at')}")
        picked += [f"{alias}.{_quote(f)} as {_quote(prefix + f)}" for f in features]
        selects += view_columns(
            alias, view, features, _quote, lambda name, p=prefix: f"spine.{_quote(p + name)}"
        )
    return (
        f"with spine as (select {', '.join(keyed)} from {spine}),\n"
        f"joined as (select {', '.join(picked)} from spine\n{chr(10).join(joins)})\n"
        f"select {(',' + chr(10) + '       ').join(selects)}\nfrom joined as spine"
        + (f"\norder by spine.{_ROW}" if in_spine_order else "")
    )


def retrieve(
    con: duckdb.DuckDBPyConnection,
    spine: str,
    selection: dict[FeatureView, list[str]],
    run: Callable[[str], T],
    in_spine_order: bool = True,
    bucket: Bucket | None = None,
) -> T:
    """``run`` (which executes the SQL it is given, e.g. a COPY around it) on the retrieval
    query, keyed on hashed ids; should two ids share a hash, once more keyed on the ids."""
    try:
        return run(retrieval_sql(con, spine, selection, in_spine_order, bucket))
    except duckdb.InvalidInputException as exc:
        if _COLLISION not in str(exc):
            raise
    return run(retrieval_sql(con, spine, selection, in_spine_order, bucket, hashed_keys=False))


def view_columns(
    alias: str,
    view: FeatureView,
    features: list[str],
    quote,
    field: Callable[[str], str] | None = None,
) -> list[str]:
    """One view's output columns over its matched rows (``alias``: ``__available_at`` and the
    features, one row per spine row; ``field`` names them otherwise), null where nothing was
    known or the row is older than ``max_age_days``. Both engines' SQL."""
    field = field or (lambda name: f"{alias}.{quote(name)}")
    available = field("__available_at")
    known = f"{available} is not null"
    if view.max_age_days is not None:
        known += f" and {available} >= spine.{_TIME} - interval {int(view.max_age_days)} days"
    columns = [
        f"case when {known} then {field(f)} end as {quote(f'{view.name}__{f}')}" for f in features
    ]
    return columns


def assemble(
    ctes: list[str], selects: list[str], joins: list[str], in_spine_order: bool = True
) -> str:
    """The Spark engine's retrieval query: the spine and one matched-rows CTE per view, in
    spine order."""
    return (
        "with "
        + ",\n".join(ctes)
        + "\nselect "
        + ",\n       ".join(selects)
        + "\nfrom spine\n"
        + "\n".join(joins)
        + (f"\norder by spine.{_ROW}" if in_spine_order else "")
    )


def read_spine(con: duckdb.DuckDBPyConnection, path: Path | str, name: str = "_spine") -> str:
    """Expose a CSV or Parquet spine file to ``con`` as a view and return the view's name."""
    path = Path(path)
    if not path.exists():
        raise SpineError(f"{path}: no such file")
    literal = str(path).replace("'", "''")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        source = f"read_parquet('{literal}')"
    elif suffix in (".csv", ".tsv", ".txt"):
        source = f"read_csv('{literal}', header = true)"
    else:
        raise SpineError(f"{path.name}: unsupported spine type '{suffix}'; give CSV or Parquet")
    try:
        con.execute(f"create or replace temp view {name} as select * from {source}")
    except duckdb.Error as exc:
        raise SpineError(f"{path.name}: cannot be read ({exc})") from exc
    return name


def get_historical_features(
    con: duckdb.DuckDBPyConnection,
    spine: pd.DataFrame,
    selection: dict[FeatureView, list[str]],
) -> pd.DataFrame:
    """Point-in-time features for an in-memory spine, as a DataFrame."""
    con.register("_spine_frame", spine)
    try:
        return retrieve(con, "_spine_frame", selection, lambda query: con.execute(query).df())
    finally:
        con.unregister("_spine_frame")


class OutputError(FtiError, ValueError):
    """The retrieval's output file cannot be written where it was asked for; nothing was."""


OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv, header true"}


def output_format(spine_path: Path | str, out_path: Path | str) -> str:
    """DuckDB's COPY format for ``out_path``, refused before anything is read when the file
    could not be written, would be written in another format than its name says, or would
    overwrite the spine it is computed from."""
    out = Path(out_path)
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise OutputError(
            f"{out.name}: unsupported output type '{out.suffix}'; give .parquet or .csv"
        )
    if not out.parent.is_dir():
        raise OutputError(f"{out}: no folder {out.parent}")
    if out.exists() and out.resolve() == Path(spine_path).resolve():
        raise OutputError(f"{out} is the spine itself; write the features to another file")
    return fmt


def write_historical_features(
    con: duckdb.DuckDBPyConnection,
    spine_path: Path | str,
    out_path: Path | str,
    selection: dict[FeatureView, list[str]],
) -> int:
    """Stream point-in-time features for a spine file into a Parquet or CSV file (by suffix)."""
    fmt = output_format(spine_path, out_path)
    spine = read_spine(con, spine_path)
    target = str(out_path).replace("'", "''")
    retrieve(
        con,
        spine,
        selection,
        lambda query: con.execute(f"copy ({query}) to '{target}' (format {fmt})"),
    )
    return con.execute(f"select count(*) from {spine}").fetchone()[0]
