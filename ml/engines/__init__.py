"""The engines the dbt feature models run on: DuckDB (default, one file) or Apache Spark.

Everything after the feature pipeline (the feature store, training, scoring's consumers, the
dashboard, monitoring) reads the DuckDB warehouse; on the Spark engine the warehouse holds
views over the Parquet tables Spark wrote (``spark_exchange.mirror``), so those readers do not
know which engine ran.
"""

from __future__ import annotations

import os

from ml.common.errors import FtiError

ENGINES = ("duckdb", "spark")


class EngineError(FtiError, ValueError):
    """An unknown engine was asked for, or the Spark engine is not installed."""


def current() -> str:
    """The engine ``FTI_ENGINE`` names (``duckdb`` when unset); dbt's profile reads the same
    variable to pick its target."""
    name = os.environ.get("FTI_ENGINE", "duckdb").strip().lower() or "duckdb"
    if name not in ENGINES:
        raise EngineError(f"FTI_ENGINE={name!r}: the engine is one of {', '.join(ENGINES)}")
    return name
