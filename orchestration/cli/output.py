"""What `fti` shows while a run works, and the summary after it.

A run prints one line per step (its name, what it materialized, its time); in a terminal the
running step's line is redrawn as it progresses. Everything else, Dagster's and dbt's full
logs and any library's chatter, goes to a log file under ``FTI_HOME/logs`` whose path is
printed; with ``--verbose`` it goes to the screen as well.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

import dagster as dg

from ml.common.settings import Paths
from orchestration.runner import step_label

_FORMAT = logging.Formatter("%(asctime)s %(levelname)-7s %(message)s")


class RunDisplay(logging.Handler):
    """Receives every Dagster log record of a run; draws step lines, writes the log file."""

    def __init__(self, screen: IO[str], log: IO[str], verbose: bool = False) -> None:
        super().__init__(level=logging.DEBUG)
        self.screen, self.log, self.verbose = screen, log, verbose
        self.live = screen.isatty() and not verbose
        self._lock = threading.Lock()
        self._step: str | None = None
        self._started = 0.0
        self._assets = self._checks = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.log_path: Path | None = None  # set by run_output

    def logger(self) -> dg.LoggerDefinition:
        """A Dagster logger that hands this display every record of the run."""

        @dg.logger(description="fti's step lines and log file")
        def fti_progress(_init_context) -> logging.Logger:
            logger = logging.Logger("fti_progress", level=logging.DEBUG)
            logger.addHandler(self)
            return logger

        return fti_progress

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        kind = event.event_type_value if event is not None else None
        text = meta.get("orig_message") or record.getMessage()
        line = f"{meta.get('step_key') or '-'} - {kind or 'LOG'} - {text}"
        self.log.write(_FORMAT.format(_with_message(record, line)) + "\n")
        self.log.flush()
        if self.verbose and record.levelno >= logging.INFO:
            self._write(line + "\n")
        if kind is None and text.startswith("Dependencies for step"):
            kind = "STEP_BLOCKED"  # the in-process executor logs this skip; it emits no event
        with self._lock:
            self._on_event(kind, meta.get("step_key"))

    def _on_event(self, kind: str | None, step: str | None) -> None:
        if kind == "STEP_START":
            self._step, self._started = step, time.perf_counter()
            self._assets = self._checks = 0
            self._redraw()
        elif kind == "ASSET_MATERIALIZATION":
            self._assets += 1
            self._redraw()
        elif kind == "ASSET_CHECK_EVALUATION":
            self._checks += 1
            self._redraw()
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and step is not None:
            mark = "ok" if kind == "STEP_SUCCESS" else "FAILED"
            self._finish(f"  {mark:<6} {self._describe(step)}")
            self._step = None
        elif kind == "STEP_BLOCKED" and step is not None:
            self._finish(f"  {'skip':<6} {step_label(step)}  (an upstream step failed)")
        elif kind == "STEP_SKIPPED" and step is not None:
            self._finish(f"  {'skip':<6} {step_label(step)}  (nothing new upstream)")

    def _describe(self, step: str) -> str:
        done = [f"{self._assets} asset{'s' * (self._assets != 1)}"] if self._assets else []
        if self._checks:
            done.append(f"{self._checks} check{'s' * (self._checks != 1)}")
        seconds = time.perf_counter() - self._started
        return f"{step_label(step):<36} {', '.join(done):<24} {seconds:6.1f} s"

    def _redraw(self) -> None:
        if self.live and self._step is not None:
            self._write(f"\r\033[K  ...    {self._describe(self._step)}")

    def say(self, line: str) -> None:
        """A line of the command's own on the screen (and in the log)."""
        with self._lock:
            self._write(line + "\n")
            self.log.write(line + "\n")

    def _finish(self, line: str) -> None:
        if not self.verbose:
            self._write(("\r\033[K" if self.live else "") + line + "\n")

    def _write(self, text: str) -> None:
        self.screen.write(text)
        self.screen.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self._redraw()

    def __enter__(self) -> RunDisplay:
        if self.live:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()


def _with_message(record: logging.LogRecord, message: str) -> logging.LogRecord:
    copy = logging.makeLogRecord(record.__dict__)
    copy.msg, copy.args = message, None
    return copy


@contextlib.contextmanager
def run_output(paths: Paths, command: str, verbose: bool) -> Iterator[RunDisplay]:
    """The display of one run; unless ``verbose``, whatever else writes to stdout or stderr
    (dbt's output, warnings, library logs, child processes) lands in the log file."""
    folder = paths.home / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"{command}-{datetime.now():%Y%m%d-%H%M%S}.log"
    sys.stdout.flush()
    sys.stderr.flush()
    screen_fd = os.dup(1)
    with open(log_path, "a", buffering=1) as log, os.fdopen(screen_fd, "w", buffering=1) as screen:
        print(f"fti {command}: full logs in {log_path}", file=screen)
        saved = [os.dup(1), os.dup(2)]
        try:
            if not verbose:
                for fd in (1, 2):
                    os.dup2(log.fileno(), fd)
            with RunDisplay(screen, log, verbose) as display:
                display.log_path = log_path
                yield display
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, original in zip((1, 2), saved, strict=True):
                os.dup2(original, fd)
                os.close(original)


def print_summary(report: dict[str, object], headline: str) -> None:
    champion = report["champion"] or {}
    metrics = champion.get("metrics", {})
    predictions = report["predictions"]
    print(f"\n{headline}  (FTI_HOME={report['fti_home']})")
    if not champion and not predictions["rows"] and not report["published_at"]:
        print("  nothing built in this home yet")
        print("Next: `fti demo` (generated data) or `fti demo --transactions YOUR_LOG.csv`.")
        return
    print(
        "  champion model : "
        + (f"{champion['name']} v{champion['version']}" if champion else "none yet")
    )
    if metrics:
        print(
            "  holdout        : "
            + ", ".join(
                f"{k} {metrics[k]:.3f}"
                for k in ("roc_auc", "pr_auc", "precision", "recall", "f1")
                if k in metrics
            )
        )
    print(
        "  predictions    : "
        + (
            f"{predictions['rows']} customers as of {predictions['as_of']}"
            if predictions["rows"]
            else "none published yet"
        )
    )
    reasons = ", ".join(f"{n} {reason}" for reason, n in report["rejected_by_reason"].items())
    print(f"  rejected rows  : {report['rejected_rows']}" + (f" ({reasons})" if reasons else ""))
    for stage, outcome in report["health"].items():
        if not outcome["ok"]:
            print(f"  BLOCKED        : {stage} at {outcome['at']}: {outcome['detail']}")
    if report.get("stale_predictions"):
        print(f"  STALE          : {report['stale_predictions']}")
    monitoring = report.get("monitoring")
    if monitoring and monitoring.get("drift_as_of"):
        print(
            f"  drift          : {monitoring['drift_status']} at {monitoring['drift_as_of']} "
            f"({monitoring['drift_alerts']} alert(s), {monitoring['drift_warnings']} warning(s)); "
            f"realized performance for {monitoring['realized_dates']} scoring date(s)"
        )
        retraining = monitoring.get("retraining") or {}
        if retraining.get("requested"):
            print(f"  RETRAINING     : requested: {retraining['reason']}")
    print("Next: `fti monitor`, `fti ui` (Dagster), `fti dashboard` (Streamlit), or query")
    print(f"      features.customer_features in {report['features_database']} with DuckDB.")
