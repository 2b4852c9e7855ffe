"""Every dbt model as an asset keyed ``[schema, table]``, and every dbt test as its check."""

import json
import shutil
import tempfile
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
from pydantic import Field

from ml import engines
from ml.common.atomic_files import temporary
from ml.common.faults import stall_point
from ml.common.settings import DBT_PROJECT_DIR, Paths
from ml.engines import spark_exchange, spark_jobs, spark_session
from ml.features.dbt_manifest import load_manifest
from ml.ingestion import load_log
from ml.monitoring import health
from orchestration.defs.ingestion.daily import incremental_start
from orchestration.lib.dbt_project import PARSE_STATE, build_args, dbt_project, spark_build_args
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


DUCKDB = {"FTI_ENGINE": "duckdb"}


def _invoke(context, dbt: DbtCliResource, args: list[str], env: dict[str, str], paths: Paths):
    """One dbt invocation: its Dagster events (held back, see dbt_models), its run results,
    and whether it succeeded.

    It starts from the partial-parse state this home's last invocation on the same engine
    left (``Paths.dbt_parse_state``; dagster-dbt copies the checkout's own only into a
    target folder that has none), and leaves its own there. dbt checks the state against
    the project's files, vars, profile and environment, so a stale one costs a full parse,
    never a wrong build.
    """
    (DBT_PROJECT_DIR / "target").mkdir(exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="dbt-", dir=DBT_PROJECT_DIR / "target"))
    state = paths.dbt_parse_state / f"{env['FTI_ENGINE']}.msgpack"
    if state.exists():
        shutil.copyfile(state, target / PARSE_STATE)
    events = []
    try:
        invocation = dbt.cli(
            args, context=context, raise_on_error=False, env=env, target_path=target
        )
        for event in invocation.stream():
            events.append(event)
            stall_point("dbt")
        path = target / "run_results.json"
        results = json.loads(path.read_text()).get("results", []) if path.exists() else []
        if (target / PARSE_STATE).exists():
            staged = temporary(state)
            shutil.copyfile(target / PARSE_STATE, staged)
            staged.replace(state)
    finally:
        # Every invocation has its own target folder; nothing reads it after.
        shutil.rmtree(target, ignore_errors=True)
    return events, results, invocation.is_successful()


def _build_on_spark(context, dbt: DbtCliResource, paths, warehouse: Warehouse):
    """The Spark engine's build: the snapshot where ingestion lands (DuckDB), the sources out
    to Parquet, `dbt build` on Spark, the training set as a Spark job, Spark's tables into the
    warehouse as views, and the training set's tests there. Always a full build."""
    manifest = load_manifest(dbt_project().manifest_path)
    events, results, ok = _invoke(context, dbt, ["build", "--selector", "snapshots"], DUCKDB, paths)
    if not ok:
        return events, results, ok
    with warehouse.connect() as con:
        exported = spark_exchange.export_sources(con, manifest, spark_session.sources_dir(paths))
    context.log.info(f"sources exported for Spark: {exported}")
    more, built, ok = _invoke(
        context, dbt, spark_build_args(), spark_session.environment(paths), paths
    )
    events, results = events + more, results + built
    if not ok:
        return events, results, ok
    try:
        job = spark_jobs.run("training-set", paths)
    except spark_jobs.SparkJobFailed as exc:
        context.log.error(f"{exc}\n{exc.log}")
        failure = {"unique_id": "model.fti.training_set", "status": "error"}
        return events, [*results, failure], False
    with warehouse.connect() as con:
        spark_exchange.mirror(
            con, spark_exchange.built_relations(manifest), spark_session.warehouse_dir(paths)
        )
    key = dg.AssetKey(["training", "training_set"])
    for name, output_key in context.assets_def.keys_by_output_name.items():
        if output_key == key and name in context.selected_output_names:
            events.append(dg.Output(None, output_name=name, metadata={"engine": "spark", **job}))
    more, tested, ok = _invoke(
        context, dbt, ["test", "--selector", "training_set_tests"], DUCKDB, paths
    )
    return events + more, results + tested, ok


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
    """Build every dbt model and run its tests, on DuckDB in one dbt invocation (dbt's
    start-up is paid once), on Spark in the steps of ``_build_on_spark``.

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
    engine = engines.current(paths)
    if engine == "spark":
        events, results, ok = _build_on_spark(context, dbt, paths, warehouse)
    else:
        args, env = build_args(start)
        events, results, ok = _invoke(context, dbt, args, {**DUCKDB, **env}, paths)
    failed = _failed_nodes(results)
    health.record_checks(paths, "dbt", _test_results(results))
    keys = context.assets_def.keys_by_output_name
    # What dbt did build is reported even when a later node failed: those tables did change.
    with warehouse.connect(read_only=True) as con:
        for event in events:
            if isinstance(event, dg.Output) and event.output_name in keys:
                schema, table = keys[event.output_name].path
                rows = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
                event = event.with_metadata({**event.metadata, "dagster/row_count": rows})
            yield event
    if failed or not ok:
        detail = f"dbt build on {engine} failed: " + (", ".join(failed) or "see the run's logs")
        health.record(paths, "dbt", False, detail, context.run_id)
        raise dg.Failure(
            description=f"{detail}. Downstream assets are skipped; published features, the "
            "online store and predictions keep their last good version."
        )
    with warehouse.connect() as con:
        load_log.mark_built(con)
    engines.record(paths, engine)
    health.record(
        paths, "dbt", True, f"every model built and every test passed ({engine})", context.run_id
    )
