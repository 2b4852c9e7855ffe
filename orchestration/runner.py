"""Running the code location's jobs, in-process, in the Dagster instance under ``FTI_HOME``.

The CLI and the tests start runs here, so runs they start are the runs ``fti ui`` shows. A
run reports its steps to an optional ``progress`` (the CLI's display); without one, Dagster's
console logger prints as usual.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dagster as dg

from ml.common.settings import Paths, export_environment
from ml.monitoring import health
from orchestration.lib.keys import (
    CHURN_MODEL,
    DAILY_JOB,
    PIPELINE_JOB,
    TRAINING_JOB,
    TRAINING_OP,
)
from orchestration.lib.recovery import reap_dead_runs, run_tags

DAGSTER_YAML = """\
# Written by fti. Every asset that writes the DuckDB warehouse is in the `warehouse` pool;
# a limit of 1 keeps them from running at the same time, even from the UI.
telemetry:
  enabled: false
# Runs launched from the UI whose worker dies are marked failed by the daemon (runs started by
# `fti` are checked by fti itself; see orchestration/lib/recovery.py).
run_monitoring:
  enabled: true
concurrency:
  pools:
    default_limit: 1
"""


def step_label(step_key: str) -> str:
    """``models__churn_model`` -> ``models/churn_model``: the asset key, as the UI shows it."""
    return step_key.replace("__", "/")


def prepare_environment() -> Paths:
    """Resolve ``FTI_HOME``, write the instance's dagster.yaml, and put this Python's
    executables (dbt, which dagster-dbt runs) first on PATH."""
    paths = export_environment()
    paths.dagster_home.mkdir(parents=True, exist_ok=True)
    config = paths.dagster_home / "dagster.yaml"
    if not config.exists() or config.read_text() != DAGSTER_YAML:
        config.write_text(DAGSTER_YAML)
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return paths


def load_definitions() -> dg.Definitions:
    """The code location's definitions (the dbt manifest is re-parsed only when stale)."""
    from orchestration.definitions import defs

    return defs()


def _unfinished_step(instance: dg.DagsterInstance, run_id: str) -> str:
    """The step a run was in when it stopped: started, never finished."""
    kinds = {
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
    }
    started: list[str] = []
    for record in instance.all_logs(run_id, of_type=kinds):
        event = record.dagster_event
        if event.event_type == dg.DagsterEventType.STEP_START:
            started.append(event.step_key)
        elif event.step_key in started:
            started.remove(event.step_key)
    return ", ".join(step_label(s) for s in started) or "between steps"


def reap(paths: Paths, instance: dg.DagsterInstance) -> list[str]:
    """Mark runs whose process died as failed, and say so where `fti status` and the
    dashboard look; returns the ids of the runs reaped."""
    reaped = reap_dead_runs(instance)
    for run_id in reaped:
        run = instance.get_run_by_id(run_id)
        health.record(
            paths,
            health.RUN,
            False,
            f"run {run_id} ({run.job_name}) died during {_unfinished_step(instance, run_id)} "
            "(killed or crashed); what is published is the last good version",
            run_id,
        )
    return reaped


def _record_outcome(paths: Paths, job: str, run_id: str, failures: list[str]) -> None:
    if not failures:
        health.record(paths, health.RUN, True, f"run {run_id} ({job}) succeeded", run_id)
        return
    # A guarded stage (dbt, the feature quality gate) already says why it stopped this run;
    # an older run's outcome would only contradict it.
    if any(o.get("dagster_run_id") == run_id for o in health.failing(paths).values()):
        health.clear(paths, health.RUN)
        return
    health.record(
        paths,
        health.RUN,
        False,
        f"run {run_id} ({job}) failed at {'; '.join(failures)}; what is published is the "
        "last good version",
        run_id,
    )


def execute(
    job: str,
    ops: dict[str, object] | None = None,
    tags: dict[str, str] | None = None,
    progress: dg.LoggerDefinition | None = None,
    leave_out: frozenset[dg.AssetKey] = frozenset(),
) -> tuple[bool, str]:
    """Run a job in-process, recorded in the instance under ``FTI_HOME``; ``leave_out``
    names assets of the job not to materialize this time.

    Returns (True, run id) or (False, each failed step with its innermost error).
    """
    paths = prepare_environment()
    job_def = load_definitions().resolve_job_def(job)
    selection = None
    if leave_out:
        selection = sorted(job_def.asset_layer.selected_asset_keys - leave_out)
        left = {"__".join(key.path) for key in leave_out}
        ops = {name: config for name, config in (ops or {}).items() if name not in left}
    if progress is None:
        loggers = {"console": {"config": {"log_level": "INFO"}}}
    else:
        job_def = job_def.with_logger_defs({**job_def.loggers, "fti_progress": progress})
        loggers = {"fti_progress": {}}
    run_config: dict[str, object] = {"loggers": loggers}
    if ops:
        run_config["ops"] = ops
    with dg.DagsterInstance.get() as instance:
        for run_id in reap(paths, instance):
            print(
                f"fti: run {run_id} had died; marked failed, its pool slot freed", file=sys.stderr
            )
        result = job_def.execute_in_process(
            run_config=run_config,
            instance=instance,
            asset_selection=selection,
            tags={**(tags or {}), **run_tags()},
            raise_on_error=False,
        )
    failures = [
        f"{step_label(event.step_key)}: {_root_cause(event.event_specific_data.error)}"
        for event in result.all_events
        if event.is_step_failure and event.event_specific_data.error is not None
    ]
    if not result.success and not failures:
        failures = [f"run {result.run_id} failed"]
    _record_outcome(paths, job, result.run_id, failures)
    if result.success:
        return True, result.run_id
    return False, "\n".join(failures)


def materialized(run_id: str) -> set[dg.AssetKey]:
    """The assets a run materialized."""
    with dg.DagsterInstance.get() as instance:
        events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    return {event.dagster_event.asset_key for event in events}


def _root_cause(error) -> str:
    """The innermost error's message: Dagster wraps the user's exception in its own."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_pipeline(
    transactions: str | None = None,
    customers: int = 5000,
    seed: int = 7,
    append: bool = False,
    incremental_from: str | None = None,
    attributes: str | None = None,
    training: dict[str, object] | None = None,
    accept_changes: bool = False,
    progress: dg.LoggerDefinition | None = None,
    timezone: str = "UTC",
    retrain: bool = True,
) -> tuple[bool, str]:
    """Run the whole asset graph once (without training when ``retrain`` is false: the
    serving model scores the new features).

    With ``append`` the file's rows join those already loaded and dbt rebuilds incrementally
    from ``incremental_from`` (the earliest new day); the rest of the graph runs as usual.
    ``training`` overrides the training asset's config (candidates, folds, ...);
    ``accept_changes`` lets the quality gate publish a build that lost rows or gained nulls
    against the last one (a known change of the data, not a broken feed). ``timezone`` is
    the zone of the file's timestamps that carry none.
    """
    ingest_config: dict[str, object] = {
        "customers": customers,
        "seed": seed,
        "append": append,
        "timezone": timezone,
    }
    if transactions:
        ingest_config["transactions_path"] = str(Path(transactions).resolve())
    if attributes:
        ingest_config["customers_path"] = str(Path(attributes).resolve())
    ops: dict[str, object] = {
        "raw_transaction_log": {"config": ingest_config},
        "dbt_models": {"config": {"incremental_from": incremental_from}},
    }
    if training:
        ops[TRAINING_OP] = {"config": training}
    if accept_changes:
        ops["published__features"] = {"config": {"max_row_drop": 1.0, "max_null_rate_rise": 1.0}}
    leave_out = frozenset() if retrain else frozenset({CHURN_MODEL})
    return execute(PIPELINE_JOB, ops=ops, progress=progress, leave_out=leave_out)


def run_retraining(
    training: dict[str, object] | None = None, progress: dg.LoggerDefinition | None = None
) -> tuple[bool, str]:
    """Train a new version on the current training set, then score and monitor."""
    ops = {TRAINING_OP: {"config": training}} if training else None
    return execute(TRAINING_JOB, ops=ops, progress=progress)


def retraining_due(paths: Paths) -> str | None:
    """Why the next update should train: no champion yet, or an open retraining request."""
    from ml.monitoring import report
    from ml.registry import model_registry

    if not (paths.mlflow_dir / "mlflow.db").exists():
        return "no model is registered yet"
    if model_registry.champion_version(model_registry.configure(paths)) is None:
        return "no model serves yet"
    request = ((report.read(paths) or {}).get("retraining")) or {}
    if request.get("requested"):
        return f"retraining was requested: {request.get('reason')}"
    return None


def run_days(
    first: str,
    last: str | None = None,
    progress: dg.LoggerDefinition | None = None,
    timezone: str = "UTC",
) -> tuple[bool, str]:
    """Materialize the daily partitions first..last as one run of the `daily_update` job:
    their landed files are appended, features rebuilt incrementally from ``first``, and the
    serving model scores them (training has its own job)."""
    ops: dict[str, object] = {"raw__daily_transactions": {"config": {"timezone": timezone}}}
    return execute(
        DAILY_JOB,
        ops=ops,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last or first,
        },
        progress=progress,
    )


def status(paths: Paths) -> dict[str, object]:
    """What is built, read from the published snapshot and the registry, never the warehouse."""
    from ml import engines
    from ml.features import quality_gate
    from ml.inference import publication
    from ml.monitoring import health, report
    from ml.registry import model_registry

    manifest = publication.read_manifest(paths) or {}
    features = quality_gate.read_publication(paths) or {}
    champion = None
    if (paths.mlflow_dir / "mlflow.db").exists():
        champion = model_registry.champion_summary(model_registry.configure(paths))
    stale = publication.stale_predictions(paths, champion and champion["version"])
    return {
        "fti_home": str(paths.home),
        "engine": engines.recorded(paths),
        "champion": champion,
        "predictions": manifest.get("predictions", {"rows": 0, "as_of": None}),
        "predictions_model_version": (manifest.get("champion") or {}).get("version"),
        "stale_predictions": stale,
        "rejected_rows": manifest.get("rejected_rows", 0),
        "rejected_by_reason": manifest.get("rejected_by_reason", {}),
        "tables": manifest.get("tables", {}),
        "published_at": manifest.get("published_at"),
        "dagster_run_id": manifest.get("dagster_run_id"),
        "features_published_at": features.get("published_at"),
        "features_database": str(quality_gate.database_path(paths)),
        "health": health.read(paths),
        "monitoring": report.summary(report.read(paths)),
    }
