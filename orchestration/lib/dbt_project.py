"""The dbt project as Dagster sees it: the cached project, its manifest, and the dbt CLI.

Nothing here runs at import time. ``ensure_manifest()`` is called when definitions load
(``orchestration/definitions.py``) and re-parses only when a dbt file changed; the test
suite calls it once before its workers start (tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import tempfile
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from ml.common.errors import FtiError
from ml.common.settings import (
    DBT_PARSE_DIR,
    DBT_PROJECT_DIR,
    Paths,
    duckdb_memory_limit,
    export_environment,
)

# The first day an incremental build recomputes (read by dbt_project/macros/incremental.sql).
INCREMENTAL_FROM = "FTI_INCREMENTAL_FROM"
PARSE_STATE = "partial_parse.msgpack"  # what dbt reads and writes in its target folder


@functools.cache
def dbt_project() -> DbtProject:
    return DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target_path=DBT_PARSE_DIR.relative_to(DBT_PROJECT_DIR),
    )


class DbtProjectError(FtiError):
    """The dbt project does not parse (a model refers to one that does not exist, bad YAML):
    nothing can run until it is mended, and the manifest of the last good parse is kept."""


def prepare() -> DbtProject:
    """Bring the manifest Dagster and the feature store read (``DBT_PARSE_DIR``) up to date."""
    export_environment()
    project = dbt_project()
    parse(project)
    return project


def parse(project: DbtProject) -> None:
    """``dbt parse`` into ``project.manifest_path``, replacing the old manifest in one step.

    Every process that loads the Dagster definitions reads the manifest (each `fti` command
    that runs the pipeline, `fti ui`'s code server), and `fti ui` parses again as it starts:
    dbt writing the file in place let a pipeline starting meanwhile read half of it. The
    parse runs in a folder of its own, from the last parse's state, and its manifest is
    renamed over the old one, so a reader finds the old file or the new, whole. dbt's log
    of the latest parse stays beside the manifest.
    """
    target = project.manifest_path.parent
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="parse-", dir=target))
    try:
        if (target / PARSE_STATE).exists():
            shutil.copyfile(target / PARSE_STATE, scratch / PARSE_STATE)
        invocation = FtiDbtCliResource(project_dir=project).cli(
            ["parse", "--quiet"], target_path=scratch, raise_on_error=False
        )
        errors = [
            event.raw_event["info"]["msg"]
            for event in invocation.stream_raw_events()
            if event.raw_event["info"].get("level") == "error"
        ]
        if (scratch / "dbt.log").exists():
            (scratch / "dbt.log").replace(target / "dbt.log")
        if not invocation.is_successful():
            detail = "\n".join(errors) or "no error in its output"
            raise DbtProjectError(
                f"dbt cannot parse {project.project_dir}: {detail}\n"
                f"(dbt's log: {target / 'dbt.log'})"
            )
        if (scratch / PARSE_STATE).exists():  # not when partial parsing is off
            (scratch / PARSE_STATE).replace(target / PARSE_STATE)
        (scratch / "manifest.json").replace(project.manifest_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ensure_manifest() -> DbtProject:
    """Re-parse only when a dbt source file is newer than the manifest."""
    project = dbt_project()
    manifest = project.manifest_path
    if manifest.exists():
        built = manifest.stat().st_mtime
        sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
        for folder in ("models", "macros", "tests", "snapshots"):
            sources.extend((DBT_PROJECT_DIR / folder).rglob("*"))
        if all(p.stat().st_mtime <= built for p in sources if p.is_file()):
            return project
    return prepare()


def build_args(incremental_from: str | None) -> tuple[list[str], dict[str, str]]:
    """`dbt build` arguments and environment for a full or an incremental run.

    A full run recreates the incremental models (`--full-refresh`: one CREATE TABLE AS)
    rather than emptying and refilling them (a temporary table, then an INSERT).
    Snapshots ignore the flag and keep their history. An incremental run names its first day
    in ``FTI_INCREMENTAL_FROM`` (see dbt_project/macros/incremental.sql for why not a var).
    dbt's unit tests check the SQL, not the data: they run in `make test` and an analyst's
    `dbt build`, not in every pipeline run.
    """
    build = ["build", "--exclude-resource-type", "unit_test"]
    if incremental_from is None:
        return [*build, "--full-refresh"], {}
    day = dt.date.fromisoformat(incremental_from)
    return build, {INCREMENTAL_FROM: day.isoformat()}


# What dbt does not build on Spark: snapshots need Delta, Iceberg or Hudi there (the DuckDB
# warehouse keeps them beside the raw tables), and the training set is a Python model, which
# dbt-spark runs only on Databricks (a Spark job builds it: ml/engines/spark_jobs.py).
SPARK_EXCLUDED = ("resource_type:snapshot", "training_set+")


def spark_build_args() -> list[str]:
    """`dbt build` arguments for the Spark engine: always a full build (Spark's Parquet
    tables cannot delete the rows an incremental run replaces)."""
    return [
        "build",
        "--exclude-resource-type",
        "unit_test",
        "--full-refresh",
        # One argument: dagster-dbt takes a single value after --exclude (dbt splits on spaces).
        "--exclude",
        " ".join(SPARK_EXCLUDED),
    ]


class FtiDbtCliResource(DbtCliResource):
    """dbt on the project's warehouse.

    ``warehouse`` reaches dbt's profile as ``FTI_WAREHOUSE`` for the one invocation (with
    ``env``, e.g. the Spark engine's variables), so the resource and the caller, not the
    process environment, decide what dbt builds and where. dagster-dbt also asks the `dbt`
    executable for its version before every invocation (`dbt --version`, which asks PyPI for
    the latest release); the executable is the one installed beside this Python, so its
    version is the package's.
    """

    warehouse: str | None = None

    def cli(self, args, *, env: dict[str, str] | None = None, **kwargs):
        overrides = {"FTI_DUCKDB_MEMORY_LIMIT": duckdb_memory_limit(), **(env or {})}
        if self.warehouse is not None:
            overrides["FTI_WAREHOUSE"] = self.warehouse
            overrides["FTI_DUCKDB_SPILL"] = str(Paths(Path(self.warehouse).parent).duckdb_spill)
        # dagster-dbt copies the environment when it starts dbt, inside this call.
        before = {name: os.environ.get(name) for name in overrides}
        os.environ.update(overrides)
        try:
            return super().cli(args, **kwargs)
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    @functools.cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)
