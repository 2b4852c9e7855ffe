"""How many threads the numeric libraries use, decided in one place.

OpenMP (scikit-learn's gradient boosting and forests) and BLAS start one thread per core, and
by default a thread that reaches a barrier first spins on its core waiting for the others.
On a small machine shared with one busy process, the thread that shares a core with the
neighbour is always late and every other thread burns its core spinning, so a fit slows far
more than the lost core explains (bench/threads.py measures it). So:

- threads wait passively (``OMP_WAIT_POLICY=PASSIVE``), set when ``ml`` is first imported,
  before any OpenMP runtime starts, unless the environment already says otherwise;
- fits use ``FTI_THREADS`` threads (default: the cores this process may run on);
- a serving process scores a row or a few with one thread: more only add hand-offs.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits


def configure_environment() -> None:
    """Passive OpenMP waits for this process and the processes it starts (dbt's Python)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def fitting_threads() -> int:
    configured = os.environ.get("FTI_THREADS", "").strip()
    if configured:
        return max(1, int(configured))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def limit_for_fitting() -> threadpool_limits:
    """Cap OpenMP and BLAS at ``fitting_threads()`` for this process."""
    return threadpool_limits(limits=fitting_threads())


def limit_for_serving() -> threadpool_limits:
    """One thread per library: a serving process answers a row at a time."""
    return threadpool_limits(limits=1)
