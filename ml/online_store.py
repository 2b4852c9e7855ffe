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
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ml.feature_views import FeatureView
from ml.settings import Paths

STORE_NAME = "online_store.sqlite"


@dataclass(frozen=True)
class OnlineFeatures:
    rows: dict[str, dict[str, object]]  # entity id -> {"<view>__<feature>": value}
    missing: list[str]
    watermark: dict[str, dict[str, object]]  # view name -> version, fingerprint, as_of, ...


class OnlineStoreError(RuntimeError):
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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{STORE_NAME}.{uuid.uuid4().hex}")
    watermark: dict[str, dict[str, object]] = {}
    try:
        with closing(sqlite3.connect(tmp)) as db:
            db.execute(
                "create table watermark (view text primary key, version integer, "
                "fingerprint text, entity text, as_of text, entities integer, "
                "features text, materialized_at text)"
            )
            for view in views:
                watermark[view.name] = _write_view(db, con, view)
            db.commit()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return watermark


def _write_view(
    db: sqlite3.Connection, con: duckdb.DuckDBPyConnection, view: FeatureView
) -> dict[str, object]:
    columns = ", ".join(f'"{c}"' for c in (view.entity, view.timestamp_column, *view.features))
    cursor = con.execute(
        f"""
        select {columns} from {view.relation}
        qualify row_number() over (
            partition by "{view.entity}" order by "{view.timestamp_column}" desc
        ) = 1
        """
    )
    names = [f"{view.name}__{f}" for f in view.features]
    db.execute(
        f'create table "{view.name}" (entity text primary key, as_of text, '
        + ", ".join(f'"{n}"' for n in names)
        + ")"
    )
    insert = f'insert into "{view.name}" values ({", ".join("?" * (len(names) + 2))})'
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
        "fingerprint": view.fingerprint,
        "entity": view.entity,
        "as_of": as_of,
        "entities": entities,
        "features": names,
        "materialized_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    db.execute(
        "insert into watermark values (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            view.name,
            view.version,
            view.fingerprint,
            view.entity,
            as_of,
            entities,
            json.dumps(names),
            mark["materialized_at"],
        ),
    )
    return mark


def read_watermark(db: sqlite3.Connection) -> dict[str, dict[str, object]]:
    rows = db.execute(
        "select view, version, fingerprint, entity, as_of, entities, features, materialized_at "
        "from watermark"
    ).fetchall()
    return {
        r[0]: {
            "version": r[1],
            "fingerprint": r[2],
            "entity": r[3],
            "as_of": r[4],
            "entities": r[5],
            "features": json.loads(r[6]),
            "materialized_at": r[7],
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


def get_online_features(paths: Paths, entity_ids: list[str]) -> OnlineFeatures:
    """Latest features of each id from every view in the store, plus the store's watermark."""
    ids = [str(i) for i in entity_ids]
    with closing(open_store(paths)) as db:
        watermark = read_watermark(db)
        rows: dict[str, dict[str, object]] = {}
        for view, mark in watermark.items():
            names = mark["features"]
            placeholders = ", ".join("?" * len(ids))
            for entity, *values in db.execute(
                f"select entity, {', '.join(_q(n) for n in names)} "
                f"from {_q(view)} where entity in ({placeholders})",
                ids,
            ):
                rows.setdefault(entity, {}).update(zip(names, values, strict=True))
    return OnlineFeatures(
        rows={i: rows[i] for i in ids if i in rows},
        missing=[i for i in ids if i not in rows],
        watermark=watermark,
    )
