"""`fti`: the whole system from the command line.

Every command resolves ``FTI_HOME`` once (``ml.common.settings``) and runs Dagster against the
instance under it, so runs started here are the runs ``fti ui`` shows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from ml.common.settings import REPO_ROOT, Paths, export_environment
from orchestration import cli_model

DAGSTER_YAML = """\
# Written by fti. Every asset that writes the DuckDB warehouse is in the `warehouse` pool;
# a limit of 1 keeps them from running at the same time, even from the UI.
telemetry:
  enabled: false
# Runs launched from the UI whose worker dies are marked failed by the daemon (runs started by
# `fti` are checked by fti itself; see orchestration/recovery.py).
run_monitoring:
  enabled: true
concurrency:
  pools:
    default_limit: 1
"""


def _environment() -> Paths:
    paths = export_environment()
    paths.dagster_home.mkdir(parents=True, exist_ok=True)
    config = paths.dagster_home / "dagster.yaml"
    if not config.exists() or config.read_text() != DAGSTER_YAML:
        config.write_text(DAGSTER_YAML)
    # dagster-dbt runs the `dbt` executable found on PATH: make it the one beside this Python.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return paths


def _execute(
    job: str, ops: dict[str, object] | None = None, tags: dict[str, str] | None = None
) -> tuple[bool, str]:
    """Run a job of the code location in-process, recorded in the instance under FTI_HOME.

    Returns (True, run id) or (False, each failed step with its innermost error).
    """
    import dagster as dg

    from orchestration.project import ensure_manifest

    _environment()
    ensure_manifest()  # dbt parse (~3 s) only when a dbt file changed since the last one
    from orchestration.definitions import defs

    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if ops:
        run_config["ops"] = ops
    from orchestration.recovery import reap_dead_runs, run_tags

    with dg.DagsterInstance.get() as instance:
        for run_id in reap_dead_runs(instance):
            print(
                f"fti: run {run_id} had died; marked failed, its pool slot freed", file=sys.stderr
            )
        result = defs.resolve_job_def(job).execute_in_process(
            run_config=run_config,
            instance=instance,
            tags={**(tags or {}), **run_tags()},
            raise_on_error=False,
        )
    if result.success:
        return True, result.run_id
    failures = [
        f"{event.step_key}: {_root_cause(event.event_specific_data.error)}"
        for event in result.all_events
        if event.is_step_failure and event.event_specific_data.error is not None
    ]
    return False, "\n".join(failures) or f"run {result.run_id} failed"


def run_pipeline(
    transactions: str | None = None,
    customers: int = 5000,
    seed: int = 7,
    append: bool = False,
    incremental_from: str | None = None,
    attributes: str | None = None,
    training: dict[str, object] | None = None,
    accept_changes: bool = False,
) -> tuple[bool, str]:
    """Run the whole asset graph once.

    With ``append`` the file's rows join those already loaded and dbt rebuilds incrementally
    from ``incremental_from`` (the earliest new day); the rest of the graph runs as usual.
    ``training`` overrides the training asset's config (candidates, folds, ...);
    ``accept_changes`` lets the quality gate publish a build that lost rows or gained nulls
    against the last one (a known change of the data, not a broken feed).
    """
    from orchestration.project import PIPELINE_JOB

    ingest_config: dict[str, object] = {"customers": customers, "seed": seed, "append": append}
    if transactions:
        ingest_config["transactions_path"] = str(Path(transactions).resolve())
    if attributes:
        ingest_config["customers_path"] = str(Path(attributes).resolve())
    ops: dict[str, object] = {
        "raw_transaction_log": {"config": ingest_config},
        "dbt_models": {"config": {"incremental_from": incremental_from}},
    }
    if training:
        ops["models__churn_model"] = {"config": training}
    if accept_changes:
        ops["published__features"] = {"config": {"max_row_drop": 1.0, "max_null_rate_rise": 1.0}}
    return _execute(PIPELINE_JOB, ops=ops)


def run_days(
    first: str, last: str | None = None, training: dict[str, object] | None = None
) -> tuple[bool, str]:
    """Materialize the daily partitions first..last as one run of the `daily_update` job:
    their landed files are appended and features rebuilt incrementally from ``first``."""
    from orchestration.project import DAILY_JOB

    return _execute(
        DAILY_JOB,
        ops={"models__churn_model": {"config": training}} if training else None,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last or first,
        },
    )


def _root_cause(error) -> str:
    """The innermost error's message: Dagster wraps the user's exception in its own."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def status(paths: Paths) -> dict[str, object]:
    """What is built, read from the published snapshot and the registry, never the warehouse."""
    from ml.features import quality_gate
    from ml.inference import publication
    from ml.monitoring import health
    from ml.registry import model_registry

    manifest = publication.read_manifest(paths) or {}
    features = quality_gate.read_publication(paths) or {}
    champion = None
    if (paths.mlflow_dir / "mlflow.db").exists():
        champion = model_registry.champion_summary(model_registry.configure(paths))
    return {
        "fti_home": str(paths.home),
        "champion": champion,
        "predictions": manifest.get("predictions", {"rows": 0, "as_of": None}),
        "rejected_rows": manifest.get("rejected_rows", 0),
        "rejected_by_reason": manifest.get("rejected_by_reason", {}),
        "tables": manifest.get("tables", {}),
        "published_at": manifest.get("published_at"),
        "dagster_run_id": manifest.get("dagster_run_id"),
        "features_published_at": features.get("published_at"),
        "features_database": str(quality_gate.database_path(paths)),
        "health": health.read(paths),
    }


def _print_summary(report: dict[str, object], headline: str) -> None:
    champion = report["champion"] or {}
    metrics = champion.get("metrics", {})
    predictions = report["predictions"]
    print(f"\n{headline}  (FTI_HOME={report['fti_home']})")
    print(f"  champion model : {champion.get('name')} v{champion.get('version')}")
    print(
        "  holdout        : "
        + ", ".join(
            f"{k} {metrics[k]:.3f}"
            for k in ("roc_auc", "pr_auc", "precision", "recall", "f1")
            if k in metrics
        )
    )
    print(f"  predictions    : {predictions['rows']} customers as of {predictions['as_of']}")
    reasons = ", ".join(f"{n} {reason}" for reason, n in report["rejected_by_reason"].items())
    print(f"  rejected rows  : {report['rejected_rows']}" + (f" ({reasons})" if reasons else ""))
    for stage, outcome in report["health"].items():
        if not outcome["ok"]:
            print(f"  BLOCKED        : {stage} at {outcome['at']}: {outcome['detail']}")
    print("Next: `fti status --json`, `fti ui` (Dagster), `fti dashboard` (Streamlit), or query")
    print(f"      features.customer_features in {report['features_database']} with DuckDB.")


def _validate_attributes(path: str | None) -> bool:
    from ml.ingestion.raw_log import InputError, validate_customers

    if path:
        try:
            validate_customers(path)
        except InputError as exc:
            print(f"fti: {exc}", file=sys.stderr)
            return False
    return True


def cmd_demo(args: argparse.Namespace) -> int:
    from ml.ingestion.raw_log import InputError, validate_file

    paths = _environment()
    if args.transactions:
        try:
            validate_file(args.transactions)
        except InputError as exc:
            print(f"fti: {exc}", file=sys.stderr)
            return 2
    if not _validate_attributes(args.attributes):
        return 2
    started = time.perf_counter()
    ok, detail = run_pipeline(
        args.transactions,
        args.customers,
        args.seed,
        attributes=args.attributes,
        accept_changes=args.accept_changes,
    )
    if not ok:
        print(
            f"fti: the pipeline failed; published results are unchanged.\n{detail}", file=sys.stderr
        )
        return 1
    _print_summary(status(paths), f"FTI demo finished in {time.perf_counter() - started:.0f} s")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    """New transactions (say, a new day's file) added to the loaded ones, features rebuilt
    incrementally from the earliest new day, then training, scoring and serving as usual."""
    from ml.ingestion.raw_log import InputError, validate_file

    paths = _environment()
    if not paths.warehouse.exists():
        print("fti: nothing is loaded yet: run `fti demo` first", file=sys.stderr)
        return 2
    try:
        first_day = validate_file(args.transactions)
    except InputError as exc:
        print(f"fti: {exc}", file=sys.stderr)
        return 2
    if first_day is None:
        print(f"fti: {args.transactions}: no row has a usable transaction_ts", file=sys.stderr)
        return 2
    if not _validate_attributes(args.attributes):
        return 2
    started = time.perf_counter()
    ok, detail = run_pipeline(
        args.transactions,
        append=True,
        incremental_from=first_day,
        attributes=args.attributes,
        accept_changes=args.accept_changes,
    )
    if not ok:
        print(
            f"fti: the update failed; published results are unchanged.\n{detail}", file=sys.stderr
        )
        return 1
    seconds = time.perf_counter() - started
    _print_summary(
        status(paths), f"Update finished in {seconds:.0f} s; features rebuilt from {first_day}"
    )
    return 0


def cmd_daily(args: argparse.Namespace) -> int:
    """Run daily partitions (files landed in FTI_HOME/landing/<day>.csv) as one run."""
    paths = _environment()
    if not paths.warehouse.exists():
        print("fti: nothing is loaded yet: run `fti demo` first", file=sys.stderr)
        return 2
    ok, detail = run_days(args.first, args.last)
    if not ok:
        print(
            f"fti: the daily run failed; published results are unchanged.\n{detail}",
            file=sys.stderr,
        )
        return 1
    _print_summary(status(paths), f"Days {args.first}..{args.last or args.first} processed")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    report = status(_environment())
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print_summary(report, f"Published {report['published_at'] or 'nothing yet'}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from orchestration.project import prepare

    _environment()
    prepare()
    dagster = shutil.which("dagster") or str(Path(sys.executable).parent / "dagster")
    argv = [
        dagster,
        "dev",
        "-m",
        "orchestration.definitions",
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    os.chdir(REPO_ROOT)
    os.execvp(argv[0], argv)


def cmd_docs(args: argparse.Namespace) -> int:
    """dbt docs: the lineage and column descriptions of every feature, for analysts."""
    import subprocess

    from ml.common.settings import DBT_PROJECT_DIR

    paths = _environment()
    if not paths.warehouse.exists():
        print("fti: no warehouse yet: run `fti demo` first", file=sys.stderr)
        return 2
    dbt = str(Path(sys.executable).parent / "dbt")
    generated = subprocess.run([dbt, "docs", "generate", "--quiet"], cwd=DBT_PROJECT_DIR)
    if generated.returncode != 0:
        print(
            "fti: `dbt docs generate` failed (is a pipeline run writing the warehouse?)",
            file=sys.stderr,
        )
        return generated.returncode
    os.chdir(DBT_PROJECT_DIR)
    argv = [dbt, "docs", "serve", "--port", str(args.port), "--host", args.host, "--no-browser"]
    os.execvp(argv[0], argv)


def cmd_dashboard(args: argparse.Namespace) -> int:
    _environment()
    streamlit = shutil.which("streamlit") or str(Path(sys.executable).parent / "streamlit")
    argv = [
        streamlit,
        "run",
        str(REPO_ROOT / "app" / "dashboard.py"),
        "--server.port",
        str(args.port),
        "--server.address",
        args.host,
        "--client.toolbarMode",
        "viewer",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    os.execvp(argv[0], argv)


def cmd_serve(args: argparse.Namespace) -> int:
    """The online prediction API (FastAPI on uvicorn), reading the online store and registry."""
    import uvicorn

    _environment()
    os.chdir(REPO_ROOT)
    uvicorn.run(
        "app.api:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )
    return 0


def cmd_features_list(args: argparse.Namespace) -> int:
    from ml.features.views import feature_views
    from orchestration.project import ensure_manifest

    _environment()
    ensure_manifest()
    views = feature_views()
    if args.json:
        print(json.dumps([v.as_json() for v in views], indent=2))
    else:
        for v in views:
            age = "unlimited" if v.max_age_days is None else f"{v.max_age_days} days"
            print(
                f"{v.name} v{v.version}  {v.relation}  entity={v.entity}  "
                f"time={v.timestamp_column}  max_age={age}  fingerprint={v.fingerprint}"
            )
            for feature, description in zip(v.features, v.descriptions, strict=True):
                print(f"    {feature:<24} {description}")
    return 0


def cmd_features_historical(args: argparse.Namespace) -> int:
    import duckdb

    from ml.common.warehouse import connect
    from ml.features.retrieval import SpineError, write_historical_features
    from ml.features.views import FeatureViewError, feature_views, resolve
    from orchestration.project import ensure_manifest

    paths = _environment()
    ensure_manifest()
    references = [r.strip() for r in args.features.split(",")] if args.features else None
    try:
        selection = resolve(feature_views(), references)
        if not paths.warehouse.exists():
            raise SpineError(f"no warehouse at {paths.warehouse}: run `fti demo` first")
        with connect(paths.warehouse, read_only=True) as con:
            rows = write_historical_features(con, args.spine, args.out, selection)
    except (FeatureViewError, SpineError) as exc:
        print(f"fti: {exc}", file=sys.stderr)
        return 2
    except duckdb.IOException as exc:
        print(f"fti: the warehouse is busy (a pipeline run is writing it): {exc}", file=sys.stderr)
        return 3
    columns = sum(len(features) for features in selection.values())
    print(f"wrote {rows} rows with {columns} features to {args.out}")
    return 0


def cmd_features_online(args: argparse.Namespace) -> int:
    from ml.features.online_store import OnlineStoreError, get_online_features

    paths = _environment()
    try:
        found = get_online_features(paths, args.ids)
    except OnlineStoreError as exc:
        print(f"fti: {exc}", file=sys.stderr)
        return 2
    if args.json:
        report = {"rows": found.rows, "missing": found.missing, "watermark": found.watermark}
        print(json.dumps(report, indent=2, default=str))
    else:
        for view, mark in found.watermark.items():
            print(f"{view} v{mark['version']} as of {mark['as_of']} ({mark['fingerprint']})")
        for entity, values in found.rows.items():
            print(entity)
            for name, value in values.items():
                print(f"    {name:<48} {value}")
        for entity in found.missing:
            print(f"{entity}: not in the online store")
    return 0


def _server(sub, name: str, help: str, port: int, func) -> None:
    command = sub.add_parser(name, help=help)
    command.add_argument("--port", type=int, default=port)
    command.add_argument("--host", default="127.0.0.1")
    command.set_defaults(func=func)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="fti", description=__doc__.splitlines()[0])
    sub = root.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole pipeline headless through Dagster")
    demo.add_argument("--customers", type=int, default=5000, help="customers to generate")
    demo.add_argument("--seed", type=int, default=7, help="seed of the generated data")
    demo.add_argument(
        "--transactions",
        metavar="PATH",
        help="your CSV/Parquet log (customer_id, transaction_ts, amount) instead of generated data",
    )
    demo.add_argument(
        "--attributes",
        metavar="PATH",
        help="CSV/Parquet of current customer attributes (customer_id, updated_at, "
        "country, segment, ...); the dbt snapshot keeps every change",
    )
    demo.add_argument(
        "--accept-changes",
        action="store_true",
        help="publish even if features lost rows or gained nulls against the last published "
        "build of the same source (when you know the data changed)",
    )
    demo.set_defaults(func=cmd_demo)

    update = sub.add_parser("update", help="add new transactions, rebuild incrementally")
    update.add_argument(
        "--transactions",
        metavar="PATH",
        required=True,
        help="CSV/Parquet with new rows (same columns as for demo)",
    )
    update.add_argument(
        "--attributes",
        metavar="PATH",
        help="CSV/Parquet of current customer attributes (customer_id, updated_at, "
        "country, segment, ...); the dbt snapshot keeps every change",
    )
    update.add_argument(
        "--accept-changes",
        action="store_true",
        help="publish even if features lost rows or gained nulls against the last published "
        "build of the same source (when you know the data changed)",
    )
    update.set_defaults(func=cmd_update)

    daily = sub.add_parser(
        "daily", help="process daily partitions from FTI_HOME/landing/<YYYY-MM-DD>.csv"
    )
    daily.add_argument("first", help="first day, YYYY-MM-DD")
    daily.add_argument("last", nargs="?", help="last day (default: the first)")
    daily.set_defaults(func=cmd_daily)

    st = sub.add_parser("status", help="what is built: champion, predictions, tables")
    st.add_argument("--json", action="store_true", help="one JSON object")
    st.set_defaults(func=cmd_status)

    _server(sub, "ui", "the Dagster UI on the instance the CLI records runs in", 3000, cmd_ui)

    features = sub.add_parser("features", help="the feature store: views, point-in-time retrieval")
    fsub = features.add_subparsers(dest="features_command", required=True)
    flist = fsub.add_parser("list", help="feature views declared in dbt")
    flist.add_argument("--json", action="store_true", help="a JSON list")
    flist.set_defaults(func=cmd_features_list)
    hist = fsub.add_parser("historical", help="point-in-time features for a spine file")
    hist.add_argument("--spine", required=True, help="CSV/Parquet: entity column, event_timestamp")
    hist.add_argument("--out", required=True, help="output file (.parquet, else CSV)")
    hist.add_argument(
        "--features", help="view:feature,... (a bare view name means all its features)"
    )
    hist.set_defaults(func=cmd_features_historical)
    online = fsub.add_parser("online", help="latest features of entities from the online store")
    online.add_argument("ids", nargs="+", metavar="ID")
    online.add_argument("--json", action="store_true", help="one JSON object")
    online.set_defaults(func=cmd_features_online)

    _server(sub, "docs", "dbt docs: feature lineage and descriptions", 8080, cmd_docs)

    _server(sub, "dashboard", "the Streamlit dashboard", 8501, cmd_dashboard)
    cli_model.add_commands(sub)
    serve = sub.add_parser("serve", help="the online prediction API (POST /predict, /docs)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.set_defaults(func=cmd_serve)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    raise SystemExit(main())
