"""The online store: every entity's latest feature vector in a small SQLite file.

It lives beside the warehouse, not in it: a DuckDB file being written locks out all readers,
while this file is written under a temporary name and renamed over the old one
(``os.replace``), so a reader opens either the previous store or the new one and is never
blocked by, nor blocks, a pipeline run. A ``watermark`` table says what the store holds:
each view's version, fingerprint and the latest event time materialized.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ml.common import atomic_files
from ml.common.errors import NotReady
from ml.common.faults import stall_point
from ml.common.settings import Paths
from ml.features.views import FeatureView

STORE_NAME = "online_store.sqlite"


@dataclass(frozen=True)
class OnlineFeatures:
    rows: dict[str, dict[str, object]]  # entity id -> {"<view>__<feature>": value}
    missing: list[str]
    watermark: dict[str, dict[str, object]]  # view name -> version, fingerprint, as_of, ...


class OnlineStoreError(NotReady):
    """The online store is missing or does not hold what was asked for."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def store_path(paths: Paths) -> Path:
    return paths.home / "online" / STORE_NAME


def _sqlite_value(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def materialize(
    paths: Paths, con: duckdb.DuckDBPyConnection, views: list[FeatureView]
) -> dict[str, dict[str, object]]:
    """Write the latest row per entity of each view to a new store, then swap it in."""
    target = store_path(paths)
    tmp = atomic_files.temporary(target)
    watermark: dict[str, dict[str, object]] = {}
    try:
        with closing(sqlite3.connect(tmp)) as db:
            db.execute(
                "create table watermark (view text, version integer, latest integer, "
                "fingerprint text, entity text, as_of text, entities integer, "
                "features text, materialized_at text, primary key (view, version))"
            )
            for view in views:
                watermark[f"{view.name}@{view.version}"] = _write_view(db, con, view)
            db.commit()
        stall_point("online_store")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return watermark


def _write_view(
    db: sqlite3.Connection, con: duckdb.DuckDBPyConnection, view: FeatureView
) -> dict[str, object]:
    # Each entity's latest time (an aggregate holding one date per entity), then its rows at
    # that time: a hash join, whose build side's time range DuckDB pushes into the scan, so a
    # timeline stored in time order is read for its latest row groups only. A window or an
    # arg_max over the whole timeline sorts or holds every column (at 50M transactions both
    # spilled about 22 GB). Rows sharing an entity's latest time keep one, as before.
    entity, ts = _q(view.entity), _q(view.timestamp_column)
    columns = ", ".join(f"v.{_q(c)}" for c in (view.entity, view.timestamp_column, *view.features))
    cursor = con.execute(
        f"""
        with latest as (
            select {entity} as __entity, max({ts}) as __time
            from {view.relation}
            group by {entity}
        )
        select {columns}
        from {view.relation} as v
        inner join latest on v.{entity} = latest.__entity and v.{ts} = latest.__time
        qualify row_number() over (partition by v.{entity}) = 1
        """
    )
    names = [f"{view.name}__{f}" for f in view.features]
    table = _table(view.name, view.version)
    db.execute(
        f'create table "{table}" (entity text primary key, as_of text, '
        + ", ".join(f'"{n}"' for n in names)
        + ")"
    )
    insert = f'insert into "{table}" values ({", ".join("?" * (len(names) + 2))})'
    entities, as_of = 0, None
    while batch := cursor.fetchmany(50_000):
        db.executemany(
            insert,
            [(str(r[0]), *(_sqlite_value(v) for v in r[1:])) for r in batch],
        )
        entities += len(batch)
        latest = max(_sqlite_value(r[1]) for r in batch)
        as_of = latest if as_of is None else max(as_of, latest)
    mark = {
        "version": view.version,
        "latest": view.latest,
        "fingerprint": view.fingerprint,
        "entity": view.entity,
        "as_of": as_of,
        "entities": entities,
        "features": names,
        "materialized_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    db.execute(
        "insert into watermark values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            view.name,
            view.version,
            int(view.latest),
            view.fingerprint,
            view.entity,
            as_of,
            entities,
            json.dumps(names),
            mark["materialized_at"],
        ),
    )
    return mark


def _table(view: str, version: int) -> str:
    return f"{view}__v{version}"


def read_watermark(db: sqlite3.Connection) -> dict[str, dict[str, object]]:
    """Every view version in the store, keyed ``name@version``."""
    rows = db.execute(
        "select view, version, latest, fingerprint, entity, as_of, entities, features, "
        "materialized_at from watermark order by view, version"
    ).fetchall()
    return {
        f"{r[0]}@{r[1]}": {
            "view": r[0],
            "version": r[1],
            "latest": bool(r[2]),
            "fingerprint": r[3],
            "entity": r[4],
            "as_of": r[5],
            "entities": r[6],
            "features": json.loads(r[7]),
            "materialized_at": r[8],
        }
        for r in rows
    }


def open_store(paths: Paths) -> sqlite3.Connection:
    path = store_path(paths)
    if not path.exists():
        raise OnlineStoreError(
            f"no online store at {path}: materialize it with `fti demo` (asset online/features)"
        )
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


def get_online_features(
    paths: Paths, entity_ids: list[str], versions: dict[str, int] | None = None
) -> OnlineFeatures:
    """Latest features of each id, plus the watermark of the view versions read.

    ``versions`` pins view versions (what a model was trained on); other views, or all
    views without it, are read in their latest version. Columns are ``<view>__<feature>``.
    """
    with closing(open_store(paths)) as db:
        return lookup(db, read_watermark(db), entity_ids, versions)


def lookup(
    db: sqlite3.Connection,
    stored: dict[str, dict[str, object]],
    entity_ids: list[str],
    versions: dict[str, int] | None = None,
) -> OnlineFeatures:
    """``get_online_features`` on an open store whose watermark has been read (a server keeps
    both for as long as the file is current)."""
    ids = [str(i) for i in entity_ids]
    versions = versions or {}
    watermark = {}
    for mark in stored.values():
        wanted = versions.get(mark["view"])
        if (wanted is None and mark["latest"]) or wanted == mark["version"]:
            watermark[mark["view"]] = mark
    absent = [f"{v}@{n}" for v, n in versions.items() if v not in watermark]
    if absent:
        raise OnlineStoreError(
            f"the online store does not hold {', '.join(absent)}; "
            f"it holds {', '.join(stored) or 'nothing'}"
        )
    rows: dict[str, dict[str, object]] = {}
    placeholders = ", ".join("?" * len(ids))
    for view, mark in watermark.items():
        names = mark["features"]
        table = _table(view, mark["version"])
        for entity, *values in db.execute(
            f"select entity, {', '.join(_q(n) for n in names)} "
            f"from {_q(table)} where entity in ({placeholders})",
            ids,
        ):
            rows.setdefault(entity, {}).update(zip(names, values, strict=True))
    # An entity known to one view but not another (say, no attribute history) still gets
    # every column, as nulls, exactly as point-in-time retrieval gives it.
    columns = [name for mark in watermark.values() for name in mark["features"]]
    return OnlineFeatures(
        rows={i: {c: rows[i].get(c) for c in columns} for i in ids if i in rows},
        missing=[i for i in ids if i not in rows],
        watermark=watermark,
    )
