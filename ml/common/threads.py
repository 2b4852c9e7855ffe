"""How many threads the numeric libraries use, decided in one place.

OpenMP (scikit-learn's gradient boosting and forests) and BLAS start one thread per core and
make every thread wait for the slowest at each barrier. On a small machine shared with one
busy process, the thread that shares a core with the neighbour is always late, so a fit
slows far more than the lost core explains; one thread fewer loses only that core
(bench/threads.py measures both; figures in bench/RESULTS.md). So:

- a fit uses ``FTI_THREADS`` threads when set, else one per core that no other process is
  running on right now (sampled from the kernel's count of runnable processes);
- a serving process scores a row or a few with one thread: more only add hand-offs.
"""

from __future__ import annotations

import os
import statistics
import time

from threadpoolctl import threadpool_limits

from ml.common import settings


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _runnable_elsewhere(samples: int = 5, interval: float = 0.01) -> int:
    """Processes running or ready to run besides this one, the median of a few samples of
    /proc/stat (0 where it cannot be read)."""
    counts = []
    for _ in range(samples):
        try:
            with open("/proc/stat") as stat:
                line = next(line for line in stat if line.startswith("procs_running"))
        except (OSError, StopIteration):
            return 0
        counts.append(max(0, int(line.split()[1]) - 1))
        time.sleep(interval)
    return int(statistics.median(counts))


def fitting_threads() -> int:
    configured = settings.fitting_threads_setting()
    if configured is not None:
        return configured
    cores = _cores()
    return max(1, cores - min(_runnable_elsewhere(), cores - 1))


def limit_for_fitting() -> threadpool_limits:
    """Cap OpenMP and BLAS at ``fitting_threads()`` for this process."""
    return threadpool_limits(limits=fitting_threads())


def limit_for_serving() -> threadpool_limits:
    """One thread per library: a serving process answers a row at a time."""
    return threadpool_limits(limits=1)
