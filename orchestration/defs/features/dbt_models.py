"""Every dbt model as an asset keyed ``[schema, table]``, and every dbt test as its check."""

import json
import shutil

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
from pydantic import Field

from ml.common.faults import stall_point
from ml.ingestion import load_log
from ml.monitoring import health
from orchestration.defs.ingestion.daily import incremental_start
from orchestration.lib.dbt_project import build_args, dbt_project
from orchestration.lib.dbt_translator import FtiDbtTranslator
from orchestration.lib.keys import WAREHOUSE_POOL
from orchestration.lib.resources import FtiHome, Warehouse


class DbtBuildConfig(dg.Config):
    incremental_from: str | None = Field(
        default=None,
        description="Rebuild only what transactions on or after this day (YYYY-MM-DD) can "
        "change; empty means a full rebuild.",
    )


def _test_results(results: list[dict]) -> list[dict[str, object]]:
    """Each dbt test of the build with its outcome, for the dashboard's Data quality page."""
    tests = []
    for result in results:
        kind, _, name, *_ = result["unique_id"].split(".")
        if kind == "test":
            tests.append(
                {
                    "test": name,
                    "status": result.get("status"),
                    "failures": result.get("failures"),
                    "seconds": round(float(result.get("execution_time") or 0.0), 3),
                    "message": result.get("message"),
                }
            )
    return tests


def _failed_nodes(results: list[dict]) -> list[str]:
    """Names of the models and tests that errored or failed, from dbt's run results."""
    failed = []
    for result in results:
        if result.get("status") in ("error", "fail", "runtime error"):
            kind, _, name, *rest = result["unique_id"].split(".")
            failed.append(f"{kind} {name}" + (f" {rest[0]}" if kind == "model" and rest else ""))
    return failed


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=FtiDbtTranslator(),
    pool=WAREHOUSE_POOL,
)
def dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    fti_home: FtiHome,
    warehouse: Warehouse,
    config: DbtBuildConfig,
):
    """Build every dbt model and run its tests in one dbt invocation (dbt's start-up is paid
    once).

    Row counts are added after dbt exits: while the dbt process runs it holds the DuckDB
    file, so dagster-dbt's own ``fetch_row_counts`` (which queries during the run) cannot
    open it. Events are therefore held back until the build finishes, in their order.
    """
    paths = fti_home.paths
    # A run of daily partitions rebuilds from its first day (see ingestion/daily.py).
    requested = config.incremental_from or incremental_start(context.run.tags)
    # A load an earlier, killed run appended but dbt never built on moves the start back
    # (a full build covers everything anyway).
    start = None
    if requested is not None:
        with warehouse.connect() as con:
            start = load_log.rebuild_start(con, requested)
    if start != requested:
        context.log.info(
            f"rebuilding from {start or 'the beginning'} instead of {requested}: "
            "an earlier load was never built on (its run died)"
        )
    invocation = dbt.cli(build_args(start), context=context, raise_on_error=False)
    events = []
    try:
        for event in invocation.stream():
            events.append(event)
            stall_point("dbt")
        path = invocation.target_path / "run_results.json"
        results = json.loads(path.read_text()).get("results", []) if path.exists() else []
        failed = _failed_nodes(results)
        health.record_checks(paths, "dbt", _test_results(results))
    finally:
        # dagster-dbt gives every invocation its own target folder; nothing reads it after.
        shutil.rmtree(invocation.target_path, ignore_errors=True)
    keys = context.assets_def.keys_by_output_name
    # What dbt did build is reported even when a later node failed: those tables did change.
    with warehouse.connect(read_only=True) as con:
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
    with warehouse.connect() as con:
        load_log.mark_built(con)
    health.record(paths, "dbt", True, "every model built and every test passed", context.run_id)
