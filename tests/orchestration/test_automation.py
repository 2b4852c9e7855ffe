"""The sensors and schedules, evaluated with Dagster's testing tools against files only."""

import json
import os
import time

import dagster as dg
import pytest

from ml.common.settings import Paths
from orchestration.lib.resources import FtiHome


@pytest.fixture(scope="module")
def automation(dbt_manifest):
    """The definitions module (it needs the dbt manifest, which a fresh clone parses first)."""
    from orchestration.defs import automation

    return automation


@pytest.fixture
def home(tmp_path) -> FtiHome:
    return FtiHome(home=str(tmp_path))


def _land(home: FtiHome, name: str, age: float = 60.0) -> None:
    path = home.paths.home / "landing" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("customer_id,transaction_ts,amount\n1,2024-03-01 10:00,5\n")
    old = time.time() - age
    os.utime(path, (old, old))


def _evaluate(sensor, home: FtiHome, cursor: str | None = None):
    with dg.build_sensor_context(resources={"fti_home": home}, cursor=cursor) as context:
        return sensor(context)


def test_landing_sensor_requests_one_run_per_settled_day(automation, home):
    assert isinstance(_evaluate(automation.landing_files, home), dg.SkipReason)
    _land(home, "2024-03-01.csv")
    _land(home, "2024-03-01.customers.csv")
    _land(home, "2024-03-02.parquet")
    _land(home, "2024-03-03.csv", age=0.0)  # still being copied: waits for the next tick
    _land(home, "notes.csv")  # not a day: ignored with a warning
    _land(home, "1999-01-01.csv")  # before the first partition
    requests = _evaluate(automation.landing_files, home)
    assert [r.partition_key for r in requests] == ["2024-03-01", "2024-03-02"]
    assert all(r.job_name in (None, "daily_update") for r in requests)
    # The run key names the day's files as they are: the same files give the same key (Dagster
    # runs a key once), a file sent again with other content gives a new one.
    again = _evaluate(automation.landing_files, home)
    assert [r.run_key for r in again] == [r.run_key for r in requests]
    assert "2024-03-01.customers.csv" in requests[0].run_key
    resent = home.paths.home / "landing" / "2024-03-02.parquet"
    resent.write_text("changed content")
    os.utime(resent, (0, time.time() - 60))
    changed = _evaluate(automation.landing_files, home)
    assert changed[1].run_key != requests[1].run_key and changed[0].run_key == requests[0].run_key


def test_retraining_sensor_follows_the_published_request(automation, home):
    paths = Paths(home.paths.home)
    assert isinstance(_evaluate(automation.retraining_requests, home), dg.SkipReason)
    paths.published.mkdir(parents=True)
    report = {"retraining": {"requested": False, "reason": None}}
    (paths.published / "monitoring.json").write_text(json.dumps(report))
    assert isinstance(_evaluate(automation.retraining_requests, home), dg.SkipReason)
    report["retraining"] = {
        "requested": True,
        "reason": "drift alert on 3 of 19 inputs and scores",
        "raised_at": "2026-03-02T10:00:00",
    }
    (paths.published / "monitoring.json").write_text(json.dumps(report))
    request = _evaluate(automation.retraining_requests, home)
    assert request.run_key == "retraining-request:2026-03-02T10:00:00"  # once per request
    assert request.tags["fti/retraining_reason"].startswith("drift alert")


def test_schedules_target_yesterday_and_every_monday(automation):
    import datetime as dt

    with dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)
    ) as context:
        request = automation.daily_update_schedule(context)
    assert request.partition_key == "2026-03-01"
    assert automation.weekly_retraining.cron_schedule == "0 3 * * 1"
    assert automation.weekly_retraining.job_name == "retrain"


def test_sensors_are_on_by_default_and_the_nightly_schedule_off(automation):
    sensors = {s.name: s for s in automation.defs.sensors}
    schedules = {s.name: s for s in automation.defs.schedules}
    running = dg.DefaultSensorStatus.RUNNING
    assert sensors["landing_files"].default_status == running
    assert sensors["retraining_requests"].default_status == running
    assert sensors["freshness_checks_sensor"].default_status == running
    assert schedules["weekly_retraining"].default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedules["daily_update_schedule"].default_status == dg.DefaultScheduleStatus.STOPPED


def test_unattended_training_runs_take_the_homes_settings(automation, home, dbt_manifest):
    """The weekly schedule's and the retraining sensor's runs carry the home's
    training_settings.yml as run config the retrain job accepts; a file that cannot be used
    stops the evaluation, naming the problem, instead of training with the defaults."""
    import datetime as dt

    from orchestration.lib.keys import TRAINING_JOB
    from orchestration.lib.training_config import TrainingConfigError
    from orchestration.runner import load_definitions

    paths = Paths(home.paths.home)
    paths.published.mkdir(parents=True)
    report = {"retraining": {"requested": True, "reason": "drift", "raised_at": "2026-03-02"}}
    (paths.published / "monitoring.json").write_text(json.dumps(report))

    def weekly():
        when = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)
        with dg.build_schedule_context(
            scheduled_execution_time=when, resources={"fti_home": home}
        ) as context:
            return automation.weekly_retraining(context)

    assert weekly().run_config == {} == _evaluate(automation.retraining_requests, home).run_config
    paths.training_settings.write_text("candidates: [logistic_regression]\ncv_folds: 1\n")
    expected = {
        "ops": {
            "models__churn_model": {
                "config": {"candidates": ["logistic_regression"], "cv_folds": 1}
            }
        }
    }
    for request in (weekly(), _evaluate(automation.retraining_requests, home)):
        assert request.run_config == expected
    retrain = load_definitions().resolve_job_def(TRAINING_JOB)
    assert dg.validate_run_config(retrain, expected)
    paths.training_settings.write_text("cv_fold: 1\n")
    with pytest.raises(TrainingConfigError, match="no setting named cv_fold"):
        _evaluate(automation.retraining_requests, home)
    with pytest.raises(TrainingConfigError, match="no setting named cv_fold"):
        weekly()
