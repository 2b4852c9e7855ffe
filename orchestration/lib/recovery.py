"""Runs that died without saying so: a killed process leaves its Dagster run STARTED and its
slot of the `warehouse` pool claimed, and with a pool limit of 1 every later run would wait
for that slot forever (found by the crash tests, which kill runs).

Runs started by `fti` carry their process id and host in tags. Before a new run starts, a
run whose process is gone is marked failed (the UI then shows what happened) and the pool
slots of every run that is no longer running are freed. Runs launched from the UI are
watched by the daemon's run monitoring (enabled in the instance's dagster.yaml); once it has
marked one failed, its slots are freed here too.
"""

from __future__ import annotations

import os
import socket

import dagster as dg

PID_TAG = "fti/pid"
HOST_TAG = "fti/host"
_RUNNING = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}


def run_tags() -> dict[str, str]:
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        pass
    return True


def _died(run: dg.DagsterRun) -> bool:
    pid = run.tags.get(PID_TAG)
    return (
        pid is not None
        and run.tags.get(HOST_TAG) == socket.gethostname()
        and int(pid) != os.getpid()
        and not _alive(int(pid))
    )


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the runs whose process died and free the pool slots of runs no longer running;
    returns the ids of the runs reaped."""
    reaped = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=list(_RUNNING))):
        if _died(run):
            instance.report_run_failed(
                run,
                f"the run's process ({run.tags[PID_TAG]}) died without finishing (killed or "
                "crashed); what it published before dying stays, nothing half-written is read",
            )
            reaped.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids():
            run = instance.get_run_by_id(run_id)
            if run is None or run.status not in _RUNNING:
                storage.free_concurrency_slots_for_run(run_id)
    return reaped
