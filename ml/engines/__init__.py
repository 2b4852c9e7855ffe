"""The engines the dbt feature models run on: DuckDB (default, one file) or Apache Spark.

Everything after the feature pipeline (the feature store, training, scoring's consumers, the
dashboard, monitoring) reads the DuckDB warehouse; on the Spark engine the warehouse holds
views over the Parquet tables Spark wrote (``spark_exchange.mirror``), so those readers do not
know which engine ran.
"""

from __future__ import annotations

import os

from ml.common.errors import FtiError
from ml.common.settings import Paths

ENGINES = ("duckdb", "spark")


class EngineError(FtiError, ValueError):
    """An unknown engine was asked for, or the Spark engine is not installed."""


def _record_file(paths: Paths):
    return paths.home / "engine"


def current(paths: Paths | None = None) -> str:
    """The engine ``FTI_ENGINE`` names; unset, the one that last built ``paths`` (so `fti
    update` continues on the engine `fti demo --engine` chose), else DuckDB. dbt's profile
    reads the same variable to pick its target."""
    name = os.environ.get("FTI_ENGINE", "").strip().lower()
    if not name and paths is not None:
        name = recorded(paths) or ""
    name = name or "duckdb"
    if name not in ENGINES:
        raise EngineError(f"FTI_ENGINE={name!r}: the engine is one of {', '.join(ENGINES)}")
    return name


def recorded(paths: Paths) -> str | None:
    """The engine of the last successful feature build in ``paths``, if any."""
    path = _record_file(paths)
    return path.read_text().strip() if path.exists() else None


def record(paths: Paths, name: str) -> None:
    _record_file(paths).write_text(name + "\n")
