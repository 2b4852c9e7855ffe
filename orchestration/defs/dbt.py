"""dbt models as Dagster assets, keyed ``[schema, model]`` like the tables analysts query."""

import datetime as dt
import functools
import json
import shutil
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging import version
from pydantic import Field

from ml.common.faults import stall_point
from ml.common.settings import export_environment
from ml.common.warehouse import connect
from ml.ingestion import load_log
from ml.monitoring import health
from orchestration.project import dbt_project

WAREHOUSE_POOL = "warehouse"
GROUP_BY_SCHEMA = {"staging": "features", "features": "features", "training": "training"}


class FtiDbtTranslator(DagsterDbtTranslator):
    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] != "model":
            return spec.replace_attributes(group_name="ingestion")
        if props["name"] == "stg_transactions":  # daily landed files feed raw.transactions too
            spec = spec.merge_attributes(deps=[dg.AssetKey(["raw", "daily_transactions"])])
        return spec.replace_attributes(
            key=dg.AssetKey([props["schema"], props.get("alias") or props["name"]]),
            group_name=GROUP_BY_SCHEMA.get(props["schema"], "features"),
        )


_project = dbt_project()
_project.prepare_if_dev()


class FtiDbtCliResource(DbtCliResource):
    """dagster-dbt asks the `dbt` executable for its version before every invocation
    (`dbt --version`: about 4 s here, and a request to PyPI for the latest release). The
    executable is the one installed beside this Python, so its version is the package's."""

    @functools.cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)


class DbtBuildConfig(dg.Config):
    incremental_from: str | None = Field(
        default=None,
        description="Rebuild only what transactions on or after this day (YYYY-MM-DD) can "
        "change; empty means a full rebuild.",
    )


def _failed_nodes(invocation) -> list[str]:
    """Names of the models and tests that errored or failed, from dbt's run results."""
    path = invocation.target_path / "run_results.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text()).get("results", [])
    failed = []
    for result in results:
        if result.get("status") in ("error", "fail", "runtime error"):
            kind, _, name, *rest = result["unique_id"].split(".")
            failed.append(f"{kind} {name}" + (f" {rest[0]}" if kind == "model" and rest else ""))
    return failed


def build_args(config: DbtBuildConfig) -> list[str]:
    """`dbt build` arguments for a full or an incremental run.

    A full run recreates the incremental models (`--full-refresh`: one CREATE TABLE AS)
    rather than emptying and refilling them (a temporary table, then an INSERT): 5-10% of
    the feature build at 1M transactions. Snapshots ignore the flag and keep their history.
    """
    if config.incremental_from is None:
        return ["build", "--full-refresh"]
    day = dt.date.fromisoformat(config.incremental_from)
    return ["build", "--vars", json.dumps({"incremental_from": day.isoformat()})]


@dbt_assets(
    manifest=_project.manifest_path,
    project=_project,
    dagster_dbt_translator=FtiDbtTranslator(),
    pool=WAREHOUSE_POOL,
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    """Build every dbt model and run its tests in one dbt invocation (start-up costs ~2.5 s).

    Row counts are added after dbt exits: while the dbt process runs it holds the DuckDB
    file, so dagster-dbt's own ``fetch_row_counts`` (which queries during the run) cannot
    open it. Events are therefore held back until the build finishes, in their order.
    """
    paths = export_environment()
    if config.incremental_from is None:
        # A run of daily partitions rebuilds from its first day (see defs/daily.py).
        from orchestration.defs.daily import incremental_start

        start = incremental_start(context.run.tags)
        if start is not None:
            config = DbtBuildConfig(incremental_from=start)
    # A load an earlier, killed run appended but dbt never built on moves the start back
    # (a full build covers everything anyway).
    start = None
    if config.incremental_from is not None:
        with connect(paths.warehouse) as con:
            start = load_log.rebuild_start(con, config.incremental_from)
    if start != config.incremental_from:
        context.log.info(
            f"rebuilding from {start or 'the beginning'} instead of {config.incremental_from}: "
            "an earlier load was never built on (its run died)"
        )
        config = DbtBuildConfig(incremental_from=start)
    invocation = dbt.cli(build_args(config), context=context, raise_on_error=False)
    events = []
    try:
        for event in invocation.stream():
            events.append(event)
            stall_point("dbt")
        failed = _failed_nodes(invocation)
    finally:
        # dagster-dbt gives every invocation its own target folder; nothing reads it after.
        shutil.rmtree(invocation.target_path, ignore_errors=True)
    keys = context.assets_def.keys_by_output_name
    # What dbt did build is reported even when a later node failed: those tables did change.
    with connect(paths.warehouse, read_only=True) as con:
        for event in events:
            if isinstance(event, dg.Output) and event.output_name in keys:
                schema, table = keys[event.output_name].path
                rows = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
                event = event.with_metadata({**event.metadata, "dagster/row_count": rows})
            yield event
    if failed or not invocation.is_successful():
        detail = "dbt build failed: " + (", ".join(failed) or "see the run's logs")
        health.record(paths, "dbt", False, detail, context.run_id)
        raise dg.Failure(
            description=f"{detail}. Downstream assets are skipped; published features, the "
            "online store and predictions keep their last good version."
        )
    with connect(paths.warehouse) as con:
        load_log.mark_built(con)
    health.record(paths, "dbt", True, "every model built and every test passed", context.run_id)
