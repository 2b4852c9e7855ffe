"""The last outcome of each guarded stage, for readers that cannot see Dagster.

The dashboard and ``fti status`` read published snapshots, which by design do not change
when a run fails; this small JSON file (replaced atomically) is how they learn that the
latest run was blocked, by what, and that they are showing the last good version.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from ml.common import atomic_files
from ml.common.settings import Paths

FILE = "health.json"
# The outcome of the latest run as a whole (failed or died), beside the guarded stages.
RUN = "pipeline_run"


def read(paths: Paths) -> dict[str, dict[str, object]]:
    path = paths.published / FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def record(paths: Paths, stage: str, ok: bool, detail: str, run_id: str | None = None) -> None:
    """Set ``stage``'s outcome; writers are serialized by the warehouse pool."""
    state = read(paths)
    state[stage] = {
        "ok": ok,
        "detail": detail,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dagster_run_id": run_id,
    }
    tmp = atomic_files.temporary(paths.published / FILE)
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, paths.published / FILE)


def clear(paths: Paths, stage: str) -> None:
    """Forget ``stage``'s outcome (another stage's says what happened)."""
    state = read(paths)
    if state.pop(stage, None) is not None:
        tmp = atomic_files.temporary(paths.published / FILE)
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, paths.published / FILE)


CHECKS = "checks"  # published/checks/<stage>.json: the stage's latest individual checks


def record_checks(paths: Paths, stage: str, checks: list[dict[str, object]]) -> None:
    """Keep the latest run's individual checks of ``stage`` (each dbt test, each quality
    check) for the dashboard's Data quality page, passed or failed."""
    target = paths.published / CHECKS / f"{stage}.json"
    payload = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "checks": checks}
    tmp = atomic_files.temporary(target)
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, target)


def read_checks(paths: Paths, stage: str) -> dict[str, object] | None:
    path = paths.published / CHECKS / f"{stage}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def failing(paths: Paths) -> dict[str, dict[str, object]]:
    return {stage: outcome for stage, outcome in read(paths).items() if not outcome["ok"]}
