"""What passes between the DuckDB warehouse and Spark's tables, both ways, as Parquet.

Ingestion validates every load into the DuckDB warehouse (``raw``), and dbt keeps the snapshot
of the customers source beside it (dbt-spark snapshots need Delta, Iceberg or Hudi, whose jars
cannot be fetched here). Before a Spark build those relations are exported, one folder per
relation, where the dbt run-start hook (``macros/engine.sql``) points Spark tables at them.
After it, every table Spark built appears in the warehouse under its usual name as a view over
Spark's Parquet, so the readers downstream see one warehouse whichever engine ran.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

PACKAGE = "fti"


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")


def exported_relations(manifest: dict) -> list[str]:
    """``schema.name`` of every source and snapshot, as the run-start hook lists them."""
    names = [f"{s['schema']}.{s['identifier']}" for s in manifest["sources"].values()]
    names += [
        f"{n['schema']}.{n['alias']}"
        for n in manifest["nodes"].values()
        if n["resource_type"] == "snapshot"
    ]
    return sorted(set(names))


def built_relations(manifest: dict) -> list[str]:
    """``schema.name`` of every model the project builds (Spark builds each as a table)."""
    return sorted(
        f"{n['schema']}.{n['alias']}"
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["package_name"] == PACKAGE
    )


def export_sources(con: duckdb.DuckDBPyConnection, manifest: dict, folder: Path) -> dict[str, int]:
    """Write each source and snapshot to ``folder/<schema>.<name>/data.parquet``; rows each."""
    counts = {}
    for relation in exported_relations(manifest):
        target = folder / relation
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        con.execute(
            f"copy (select * from {relation}) to '{_literal(target / 'data.parquet')}' "
            "(format parquet)"
        )
        counts[relation] = con.execute(f"select count(*) from {relation}").fetchall()[0][0]
    return counts


def table_folder(warehouse: Path, relation: str) -> Path:
    """Where Spark keeps a managed table's files."""
    schema, name = relation.split(".")
    return warehouse / f"{schema}.db" / name


def mirror(con: duckdb.DuckDBPyConnection, relations: list[str], warehouse: Path) -> None:
    """Make each Spark table readable in the DuckDB warehouse under its own name.

    Whatever held the name before (a table of a DuckDB build, a view) is replaced: the
    relation now belongs to the Spark engine.
    """
    kinds = dict(
        con.execute(
            "select table_schema || '.' || table_name, table_type from information_schema.tables"
        ).fetchall()
    )
    for relation in relations:
        files = table_folder(warehouse, relation) / "**" / "*.parquet"
        schema = relation.split(".")[0]
        con.execute(f"create schema if not exists {schema}")
        if kinds.get(relation) == "BASE TABLE":
            con.execute(f"drop table {relation}")
        con.execute(
            f"create or replace view {relation} as "
            f"select * from read_parquet('{_literal(files)}', hive_partitioning = true)"
        )
