"""What a user sees while a run works: one line per step, the full log in a file."""

import io

import dagster as dg

from orchestration.cli.output import RunDisplay
from orchestration.runner import step_label


@dg.asset
def first(context: dg.AssetExecutionContext) -> int:
    context.log.info("first says hello")
    return 1


@dg.asset
def second(first: int) -> int:
    return first + 1


@dg.asset
def broken(second: int) -> int:
    raise ValueError("this step breaks")


@dg.asset
def after(broken: int) -> int:
    return broken


def _run(assets, verbose=False):
    screen, log = io.StringIO(), io.StringIO()
    job = dg.define_asset_job("j", executor_def=dg.in_process_executor)
    defs = dg.Definitions(assets=assets, jobs=[job])
    job_def = defs.resolve_job_def("j")
    with RunDisplay(screen, log, verbose=verbose) as display:
        job_def = job_def.with_logger_defs({"fti_progress": display.logger()})
        result = job_def.execute_in_process(
            run_config={"loggers": {"fti_progress": {}}}, raise_on_error=False
        )
    return result, screen.getvalue(), log.getvalue()


def test_one_line_per_step_and_everything_in_the_log():
    result, screen, log = _run([first, second])
    assert result.success
    lines = screen.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:3] == ["ok", "first", "1"]
    assert lines[1].split()[:2] == ["ok", "second"]
    assert all(line.rstrip().endswith(" s") for line in lines)
    assert "first says hello" not in screen
    assert "first says hello" in log and "STEP_SUCCESS" in log


def test_a_failed_step_and_the_steps_it_skips_are_named():
    result, screen, _ = _run([first, second, broken, after])
    assert not result.success
    marks = {line.split()[1]: line.split()[0] for line in screen.splitlines()}
    assert marks == {"first": "ok", "second": "ok", "broken": "FAILED", "after": "skip"}


def test_verbose_shows_the_log_on_screen():
    _, screen, _ = _run([first], verbose=True)
    assert "first says hello" in screen


def test_step_labels_are_asset_keys():
    assert step_label("models__churn_model") == "models/churn_model"
    assert step_label("dbt_models") == "dbt_models"
