"""Fits take the cores nobody else is running on; FTI_THREADS overrides."""

import multiprocessing
import os
import time

from ml.common import threads


def _busy() -> None:
    while True:
        pass


def test_fti_threads_is_taken_as_given(monkeypatch):
    monkeypatch.setenv("FTI_THREADS", "3")
    assert threads.fitting_threads() == 3


def test_one_thread_fewer_per_busy_process_but_never_none(monkeypatch):
    monkeypatch.delenv("FTI_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    for busy, expected in ((0, cores), (1, max(1, cores - 1)), (cores + 5, 1)):
        monkeypatch.setattr(threads, "_runnable_elsewhere", lambda busy=busy: busy)
        assert threads.fitting_threads() == expected


def test_a_busy_neighbour_is_seen():
    neighbour = multiprocessing.Process(target=_busy, daemon=True)
    neighbour.start()
    try:
        time.sleep(0.3)
        assert threads._runnable_elsewhere(samples=9) >= 1
    finally:
        neighbour.kill()
        neighbour.join()
