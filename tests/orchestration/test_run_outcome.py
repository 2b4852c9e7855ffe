"""What `fti status` and the dashboard learn of a run: its outcome in health.json."""

from ml.common.settings import Paths
from ml.monitoring import health
from orchestration import runner


def test_a_run_outcome_is_recorded_once_and_never_contradicts_a_guarded_stage(tmp_path):
    paths = Paths(tmp_path)
    paths.published.mkdir(parents=True)

    runner._record_outcome(paths, "fti_pipeline", "r1", [])
    assert health.read(paths)[health.RUN]["ok"]

    runner._record_outcome(paths, "fti_pipeline", "r2", ["models/churn_model: boom"])
    failed = health.failing(paths)[health.RUN]
    assert "models/churn_model: boom" in failed["detail"] and failed["dagster_run_id"] == "r2"

    # The quality gate stopped run r3 and said why: the run's own entry goes, not to repeat
    # (or contradict) it.
    health.record(paths, "feature_quality", False, "lost half the rows", "r3")
    runner._record_outcome(paths, "fti_pipeline", "r3", ["published/features: gate failed"])
    assert set(health.failing(paths)) == {"feature_quality"}

    health.record(paths, "feature_quality", True, "passed", "r4")
    runner._record_outcome(paths, "fti_pipeline", "r4", [])
    assert health.failing(paths) == {}
