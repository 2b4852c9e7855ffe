"""The resources assets are given instead of reading the environment themselves.

``FtiHome`` is where everything is written; ``Warehouse`` opens the DuckDB file;
``ModelRegistry`` is the MLflow client. ``resources_for(paths)`` builds all of them for one
``FTI_HOME``, so a test hands assets a temporary home the same way the code location hands
them the real one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from mlflow.tracking import MlflowClient

from ml.common import warehouse
from ml.common.settings import Paths
from ml.registry import model_registry
from orchestration.lib.dbt_project import FtiDbtCliResource, dbt_project


class FtiHome(dg.ConfigurableResource):
    """``FTI_HOME``: where published features, snapshots, the online store and logs go."""

    home: str

    @property
    def paths(self) -> Paths:
        return Paths(Path(self.home))


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse, opened briefly by each asset (one writer process at a time)."""

    path: str

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.path, read_only=read_only) as con:
            yield con


class ModelRegistry(dg.ConfigurableResource):
    """The MLflow tracking store and model registry under ``FTI_HOME``."""

    home: str

    def client(self) -> MlflowClient:
        return model_registry.configure(Paths(Path(self.home)))


def resources_for(paths: Paths) -> dict[str, object]:
    """Every resource the assets take, for one ``FTI_HOME``."""
    return {
        "fti_home": FtiHome(home=str(paths.home)),
        "warehouse": Warehouse(path=str(paths.warehouse)),
        "registry": ModelRegistry(home=str(paths.home)),
        # The dbt installed beside this Python, whatever PATH says.
        "dbt": FtiDbtCliResource(
            project_dir=dbt_project(),
            dbt_executable=str(Path(sys.executable).parent / "dbt"),
            warehouse=str(paths.warehouse),
        ),
    }
