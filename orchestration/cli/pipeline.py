"""`fti demo`, `fti update`, `fti daily`, `fti status`: run the pipelines, say what they built."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from ml.common import settings
from ml.common.errors import NotReady
from ml.common.settings import Paths
from ml.engines import ENGINES
from ml.ingestion import generator
from ml.ingestion.raw_log import InputError, validate_customers, validate_file
from ml.monitoring import report
from orchestration.cli.arguments import at_least_one
from orchestration.cli.output import print_summary, run_output
from orchestration.lib.keys import RAW_TRANSACTIONS
from orchestration.runner import (
    materialized,
    prepare_environment,
    reap,
    retraining_due,
    run_days,
    run_pipeline,
    run_retraining,
    status,
)


def _report(ok: bool, detail: str, paths: Paths, log: Path, what: str, headline: str) -> int:
    if not ok:
        print(
            f"fti: the {what} failed; published results are unchanged.\n{detail}\nFull logs: {log}",
            file=sys.stderr,
        )
        return 1
    print_summary(status(paths), headline)
    return 0


def _training(args: argparse.Namespace) -> dict[str, object] | None:
    """The settings of ``--training-config``, else the home's ``training_settings.yml``, read
    and checked before anything runs."""
    from orchestration.lib.training_config import training_settings

    given = Path(args.training_config) if args.training_config else None
    return training_settings(settings.paths(), given)


def cmd_demo(args: argparse.Namespace) -> int:
    training = _training(args)
    paths = prepare_environment()
    if args.transactions:
        validate_file(args.transactions, args.timezone)
    if args.attributes:
        validate_customers(args.attributes)
    started = time.perf_counter()
    with run_output(paths, "demo", args.verbose) as display:
        ok, detail = run_pipeline(
            args.transactions,
            args.customers,
            args.seed,
            attributes=args.attributes,
            training=training,
            accept_changes=args.accept_changes,
            progress=display.logger(),
            timezone=args.timezone,
        )
    seconds = time.perf_counter() - started
    headline = f"FTI demo finished in {seconds:.0f} s"
    return _report(ok, detail, paths, display.log_path, "pipeline", headline)


def cmd_update(args: argparse.Namespace) -> int:
    """New transactions (say, a new day's file) added to the loaded ones, features rebuilt
    incrementally from the earliest new day, then training, scoring and serving as usual."""
    paths = prepare_environment()
    if not paths.warehouse.exists():
        raise NotReady("nothing is loaded yet: run `fti demo` first")
    training = _training(args)
    first_day = validate_file(args.transactions, args.timezone)
    if first_day is None:
        raise InputError(f"{args.transactions}: no row has a usable transaction_ts")
    if args.attributes:
        validate_customers(args.attributes)
    why = "--retrain" if args.retrain else retraining_due(paths)
    if why:
        print(f"fti: training a new version ({why})")
    started = time.perf_counter()
    with run_output(paths, "update", args.verbose) as display:
        ok, detail = run_pipeline(
            args.transactions,
            append=True,
            incremental_from=first_day,
            attributes=args.attributes,
            training=training,
            accept_changes=args.accept_changes,
            progress=display.logger(),
            timezone=args.timezone,
            retrain=why is not None,
        )
    seconds = time.perf_counter() - started
    if ok and RAW_TRANSACTIONS not in materialized(detail):
        print(
            f"Nothing new in {args.transactions}: every row was already loaded or set aside, and "
            "no attribute changed. Features, model and predictions are unchanged."
        )
        return 0
    headline = f"Update finished in {seconds:.0f} s; features rebuilt from {first_day}"
    return _report(ok, detail, paths, display.log_path, "update", headline)


def cmd_daily(args: argparse.Namespace) -> int:
    """Run daily partitions (files landed in FTI_HOME/landing/<day>.csv) as one run."""
    from orchestration.defs.ingestion.daily import day_range

    paths = prepare_environment()
    first, last = day_range(args.first, args.last)
    if not paths.warehouse.exists():
        raise NotReady("nothing is loaded yet: run `fti demo` first")
    with run_output(paths, "daily", args.verbose) as display:
        ok, detail = run_days(first, last, progress=display.logger(), timezone=args.timezone)
    headline = f"Days {first}..{last} processed"
    return _report(ok, detail, paths, display.log_path, "daily run", headline)


def _monitoring_line(summary: dict[str, object] | None) -> str:
    if not summary:
        return "no monitoring report"
    retraining = (summary.get("retraining") or {}).get("requested")
    return (
        f"drift {summary['drift_status']} ({summary['drift_alerts']} alerts, "
        f"{summary['drift_warnings']} warnings), realized dates {summary['realized_dates']}"
        + (", RETRAINING REQUESTED" if retraining else "")
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    """Continue the generated demo log day by day (with an optional drift) through the daily
    path, as the landing sensor and the retraining sensor would while `fti ui` runs."""
    paths = prepare_environment()
    if not paths.warehouse.exists():
        raise NotReady("nothing is loaded yet: run `fti demo` first (same --customers/--seed)")
    training = _training(args)
    log = generator.continuation(
        args.customers, args.seed, args.days, args.drift_from, args.spend_scale
    )
    landing = paths.home / "landing"
    generator.write_days(log, landing)
    first = generator.START + pd.Timedelta(days=generator.DAYS)
    drift = (
        f"; baskets x{args.spend_scale} from {(first + pd.Timedelta(days=args.drift_from)).date()}"
        if args.drift_from is not None
        else ""
    )
    print(
        f"fti simulate: {len(log.transactions)} transactions and {len(log.customers)} new "
        f"customers over {args.days} days from {first.date()} written to {landing}{drift}"
    )
    started = time.perf_counter()
    with run_output(paths, "simulate", args.verbose) as display:
        # One line per run here; every step of every run is in the log file.
        for offset in range(0, args.days, args.step):
            start = first + pd.Timedelta(days=offset)
            end = first + pd.Timedelta(days=min(offset + args.step, args.days) - 1)
            began = time.perf_counter()
            ok, detail = run_days(str(start.date()), str(end.date()))
            line = f"  {start.date()}..{end.date()}  {time.perf_counter() - began:5.1f} s"
            if ok:
                line += "  " + _monitoring_line(report.summary(report.read(paths)))
            display.say(line if ok else f"{line}  FAILED")
            if not ok:
                break
            request = ((report.read(paths) or {}).get("retraining")) or {}
            if request.get("requested") and not args.no_retrain:
                began = time.perf_counter()
                ok, detail = run_retraining(training)
                versions = status(paths)["champion"] or {}
                display.say(
                    f"  retrained ({request['reason'][:60]}...) in "
                    f"{time.perf_counter() - began:.1f} s; serving v{versions.get('version')}"
                )
                if not ok:
                    break
    headline = f"Simulated {args.days} days in {time.perf_counter() - started:.0f} s"
    code = _report(ok, detail, paths, display.log_path, "simulation", headline)
    if code == 0:
        print("See `fti monitor` for drift, realized performance and retraining requests.")
    return code


def cmd_retrain(args: argparse.Namespace) -> int:
    """Train a new version now (the gate decides whether it serves), then score and monitor."""
    paths = prepare_environment()
    if not paths.warehouse.exists():
        raise NotReady("nothing is loaded yet: run `fti demo` first")
    training = _training(args)
    started = time.perf_counter()
    with run_output(paths, "retrain", args.verbose) as display:
        ok, detail = run_retraining(training, progress=display.logger())
    headline = f"Retraining finished in {time.perf_counter() - started:.0f} s"
    return _report(ok, detail, paths, display.log_path, "retraining", headline)


def cmd_status(args: argparse.Namespace) -> int:
    paths = prepare_environment()
    with dg.DagsterInstance.get() as instance:
        reap(paths, instance)  # a run that died shows as such, not as still running
    report = status(paths)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_summary(report, f"Published {report['published_at'] or 'nothing yet'}")
    return 0


_ATTRIBUTES_HELP = (
    "CSV/Parquet of current customer attributes (customer_id, updated_at, country, segment, "
    "...); the dbt snapshot keeps every change"
)
_ACCEPT_HELP = (
    "publish even if features lost rows or gained nulls against the last published build of "
    "the same source (when you know the data changed)"
)
_TIMEZONE_HELP = (
    "time zone of timestamps in the file that carry no offset or zone name (an IANA name such "
    "as Europe/Berlin; default UTC); the warehouse stores UTC"
)
_ENGINE_HELP = (
    "where the dbt feature models, the training set and batch scoring run: duckdb (default) or "
    "spark (`make install-spark`); also FTI_ENGINE. Later runs keep the engine that built last"
)
_TRAINING_HELP = (
    "YAML file of training settings, named as the models/churn_model asset's config in "
    "Dagster's launchpad (e.g. `candidates: [logistic_regression]`, `cv_folds: 1`); the "
    "rest keep their defaults (without it: FTI_HOME/training_settings.yml when it exists)"
)
_VERBOSE_HELP = "show Dagster's and dbt's full logs on screen too (they always go to the log file)"


def _run_options(command: argparse.ArgumentParser, loads_attributes: bool = True) -> None:
    """What every command that loads data and runs the pipeline takes."""
    if loads_attributes:
        command.add_argument("--attributes", metavar="PATH", help=_ATTRIBUTES_HELP)
        command.add_argument("--accept-changes", action="store_true", help=_ACCEPT_HELP)
    command.add_argument("--timezone", default="UTC", metavar="ZONE", help=_TIMEZONE_HELP)
    command.add_argument("--engine", choices=ENGINES, help=_ENGINE_HELP)
    command.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)


def add_commands(sub) -> None:
    demo = sub.add_parser("demo", help="run the whole pipeline headless through Dagster")
    demo.add_argument("--customers", type=at_least_one, default=5000, help="customers to generate")
    demo.add_argument("--seed", type=int, default=7, help="seed of the generated data")
    demo.add_argument(
        "--transactions",
        metavar="PATH",
        help="your CSV/Parquet log (customer_id, transaction_ts, amount) instead of generated data",
    )
    _run_options(demo)
    demo.add_argument("--training-config", metavar="PATH", help=_TRAINING_HELP)
    demo.set_defaults(func=cmd_demo)

    update = sub.add_parser("update", help="add new transactions, rebuild incrementally")
    update.add_argument(
        "--transactions",
        metavar="PATH",
        required=True,
        help="CSV/Parquet with new rows (same columns as for demo)",
    )
    update.add_argument(
        "--retrain",
        action="store_true",
        help="train a new version too (otherwise only when no model serves or monitoring "
        "has an open retraining request)",
    )
    _run_options(update)
    update.add_argument("--training-config", metavar="PATH", help=_TRAINING_HELP)
    update.set_defaults(func=cmd_update)

    simulate = sub.add_parser(
        "simulate",
        help="continue the generated log day by day through the daily path (drift optional)",
    )
    simulate.add_argument(
        "--days", type=at_least_one, default=120, help="days to continue (default 120)"
    )
    simulate.add_argument("--step", type=at_least_one, default=7, help="days per run (default 7)")
    simulate.add_argument(
        "--drift-from",
        type=int,
        metavar="DAY",
        help="day of the continuation (0 = its first) from which baskets are scaled",
    )
    simulate.add_argument(
        "--spend-scale", type=float, default=1.6, help="basket scale of the drift (default 1.6)"
    )
    simulate.add_argument(
        "--customers", type=at_least_one, default=5000, help="as given to `fti demo`"
    )
    simulate.add_argument("--seed", type=int, default=7, help="as given to `fti demo`")
    simulate.add_argument(
        "--no-retrain",
        action="store_true",
        help="leave retraining requests open (by default they are answered, as the sensor does)",
    )
    simulate.add_argument("--training-config", metavar="PATH", help=_TRAINING_HELP)
    simulate.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    simulate.set_defaults(func=cmd_simulate)

    retrain = sub.add_parser(
        "retrain", help="train a new version now; the gate decides whether it serves"
    )
    retrain.add_argument("--training-config", metavar="PATH", help=_TRAINING_HELP)
    retrain.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    retrain.set_defaults(func=cmd_retrain)

    daily = sub.add_parser(
        "daily", help="process daily partitions from FTI_HOME/landing/<YYYY-MM-DD>.csv"
    )
    daily.add_argument("first", help="first day, YYYY-MM-DD")
    daily.add_argument("last", nargs="?", help="last day (default: the first)")
    _run_options(daily, loads_attributes=False)
    daily.set_defaults(func=cmd_daily)

    st = sub.add_parser("status", help="what is built: champion, predictions, tables")
    st.add_argument("--json", action="store_true", help="one JSON object")
    st.set_defaults(func=cmd_status)
