"""What runs the pipelines without anyone typing a command, once `fti ui` (the Dagster daemon)
is up.

* ``landing_files``: a transaction file dropped into ``FTI_HOME/landing/`` as
  ``<YYYY-MM-DD>.csv`` (or ``.parquet``; with an optional ``<YYYY-MM-DD>.customers.csv`` of
  attribute changes) starts a run of its day: ingest, features, online store, scoring,
  monitoring. On by default. A file is taken once it has not changed for
  ``SETTLE_SECONDS`` (still being copied otherwise); sending a changed file again runs again.
* ``daily_update_schedule``: the same for yesterday's partition every night, for sources that
  are pulled into ``landing/`` rather than dropped (off by default: turn it on in the UI).
* ``weekly_retraining``: a new version every Monday (the gate decides whether it serves).
* ``retraining_requests``: a run of the ``retrain`` job when monitoring raised a request
  (drift or realized performance past its threshold), once per request.
* Both train with the home's ``training_settings.yml`` when there is one (in the run's
  config, as the launchpad would give it); a file that cannot be used fails the evaluation,
  naming the problem, rather than train with settings the user did not ask for.
* Freshness checks: the features and predictions were updated within the last two days.

Sensors read files (the landing folder, the published monitoring report), never the
warehouse, which a run may hold.
"""

import datetime as dt
import time

import dagster as dg

from ml.monitoring import report
from orchestration.defs.freshness import FRESHNESS_CHECKS
from orchestration.defs.ingestion.daily import ATTRIBUTES, DAILY, SUFFIXES
from orchestration.defs.jobs import daily_update, retrain
from orchestration.lib.resources import FtiHome
from orchestration.lib.training_config import training_run_config

SETTLE_SECONDS = 5.0


def landed_days(fti_home: FtiHome, now: float) -> tuple[list[tuple[str, str]], list[str]]:
    """(day, run key) of each settled landing file with a valid day in the partitions; and
    why other files are left alone."""
    landing = fti_home.paths.home / "landing"
    if not landing.is_dir():
        return [], []
    first = dt.date.fromisoformat(DAILY.start.strftime("%Y-%m-%d"))
    last = dt.date.today() + dt.timedelta(days=1)
    by_day: dict[str, list[str]] = {}
    waiting: set[str] = set()  # a file of the day is still being written: the day waits
    ignored = []
    for path in sorted(landing.iterdir()):
        if path.name.startswith(".") or path.suffix not in SUFFIXES or not path.is_file():
            continue
        stem = path.stem.removesuffix(ATTRIBUTES)
        try:
            day = dt.date.fromisoformat(stem)
        except ValueError:
            ignored.append(f"{path.name}: not named <YYYY-MM-DD>{path.suffix}")
            continue
        if not first <= day <= last:
            ignored.append(f"{path.name}: outside the partitions {first}..{last}")
            continue
        stat = path.stat()
        if now - stat.st_mtime < SETTLE_SECONDS:
            waiting.add(day.isoformat())
            continue
        by_day.setdefault(day.isoformat(), []).append(
            f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
        )
    found = [(day, "|".join(names)) for day, names in by_day.items() if day not in waiting]
    return found, ignored


@dg.sensor(
    job=daily_update,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Process each transaction file dropped into FTI_HOME/landing/ as its day.",
)
def landing_files(context: dg.SensorEvaluationContext, fti_home: FtiHome):
    found, ignored = landed_days(fti_home, time.time())
    for reason in ignored:
        context.log.warning(f"landing file ignored: {reason}")
    if not found:
        return dg.SkipReason("no new file in landing/")
    return [dg.RunRequest(run_key=key, partition_key=day) for day, key in found]


@dg.schedule(
    job=daily_update,
    cron_schedule="30 1 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Yesterday's partition every night at 01:30 UTC (for pulled sources).",
)
def daily_update_schedule(context: dg.ScheduleEvaluationContext):
    day = (context.scheduled_execution_time - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"scheduled:{day}", partition_key=day)


@dg.schedule(
    job=retrain,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="A new version every Monday at 03:00 UTC; the gate decides whether it serves.",
)
def weekly_retraining(context: dg.ScheduleEvaluationContext, fti_home: FtiHome):
    return dg.RunRequest(run_config=training_run_config(fti_home.paths))


@dg.sensor(
    job=retrain,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrain when the monitoring report has an open retraining request.",
)
def retraining_requests(context: dg.SensorEvaluationContext, fti_home: FtiHome):
    monitoring = report.read(fti_home.paths) or {}
    request = monitoring.get("retraining") or {}
    if not request.get("requested"):
        return dg.SkipReason("no open retraining request")
    return dg.RunRequest(
        run_key=f"retraining-request:{request.get('raised_at')}",
        run_config=training_run_config(fti_home.paths),
        tags={"fti/retraining_reason": str(request.get("reason"))[:200]},
    )


defs = dg.Definitions(
    sensors=[
        landing_files,
        retraining_requests,
        dg.build_sensor_for_freshness_checks(
            freshness_checks=FRESHNESS_CHECKS,
            default_status=dg.DefaultSensorStatus.RUNNING,
        ),
    ],
    schedules=[daily_update_schedule, weekly_retraining],
)
