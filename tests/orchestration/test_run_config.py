"""What the runner asks of each job is config the job accepts: a misspelt op or field would
fail every run, not a test."""

import dagster as dg

from orchestration import runner
from orchestration.lib.keys import CHURN_MODEL, DAILY_JOB, PIPELINE_JOB, TRAINING_JOB


def _captured(monkeypatch, call):
    seen = {}

    def execute(job, ops=None, tags=None, progress=None, leave_out=frozenset()):
        seen.update(job=job, ops=ops, leave_out=leave_out)
        return True, "run"

    monkeypatch.setattr(runner, "execute", execute)
    call()
    return seen


def test_pipeline_and_daily_config_is_valid_for_their_jobs(monkeypatch, dbt_manifest):
    defs = runner.load_definitions()
    light = {"candidates": ["logistic_regression"], "cv_folds": 1}
    pipeline = _captured(
        monkeypatch,
        lambda: runner.run_pipeline(
            "log.csv",
            append=True,
            incremental_from="2025-12-01",
            timezone="Asia/Tokyo",
            training=light,
            accept_changes=True,
        ),
    )
    assert pipeline["job"] == PIPELINE_JOB
    assert pipeline["ops"]["raw_transaction_log"]["config"]["timezone"] == "Asia/Tokyo"
    dg.validate_run_config(defs.resolve_job_def(PIPELINE_JOB), {"ops": pipeline["ops"]})

    assert pipeline["leave_out"] == frozenset()
    without_training = _captured(
        monkeypatch, lambda: runner.run_pipeline("log.csv", append=True, retrain=False)
    )
    assert without_training["leave_out"] == {CHURN_MODEL}

    daily = _captured(monkeypatch, lambda: runner.run_days("2025-12-01", timezone="Europe/Berlin"))
    assert daily["job"] == DAILY_JOB
    assert daily["ops"]["raw__daily_transactions"]["config"] == {"timezone": "Europe/Berlin"}
    dg.validate_run_config(defs.resolve_job_def(DAILY_JOB), {"ops": daily["ops"]})

    retraining = _captured(monkeypatch, lambda: runner.run_retraining(training=light))
    assert retraining["job"] == TRAINING_JOB
    dg.validate_run_config(defs.resolve_job_def(TRAINING_JOB), {"ops": retraining["ops"]})
