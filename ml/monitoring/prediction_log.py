"""Every online prediction, logged off the request path and loaded into the warehouse later.

A request only appends a record to an in-memory queue; a background thread writes what has
queued to a new JSON-lines file every ``flush_seconds`` (written under a temporary name and
renamed, so a loader never sees half a file). The Dagster asset `monitoring/online_predictions`
loads finished files into the warehouse and moves them aside. The server never opens the
warehouse, and a slow disk delays logging, not answers.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import uuid
from pathlib import Path

from ml.common.settings import Paths

LOG_COLUMNS = {
    "request_id": "VARCHAR",
    "logged_at": "TIMESTAMP",
    "customer_id": "VARCHAR",
    "variant": "VARCHAR",
    "model_version": "VARCHAR",
    "churn_probability": "DOUBLE",
    "risk_band": "VARCHAR",
    "latency_ms": "DOUBLE",
    "features_as_of": "JSON",
    "features": "JSON",
    "feature_versions": "JSON",
    # 200 for a prediction; a refused request is logged too, with its HTTP status and path,
    # so the service's error rate is known.
    "status": "INTEGER",
    "path": "VARCHAR",
}


def error_record(status: int, path: str, latency_ms: float) -> dict[str, object]:
    return {
        "request_id": uuid.uuid4().hex,
        "logged_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "status": status,
        "path": path,
        "latency_ms": round(latency_ms, 3),
    }


def log_folder(paths: Paths) -> Path:
    return paths.home / "prediction_logs"


class PredictionLogger:
    def __init__(self, folder: Path, flush_seconds: float = 0.5) -> None:
        self.folder = folder
        self.flush_seconds = flush_seconds
        self._queue: queue.SimpleQueue[dict[str, object]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._prefix = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._sequence = 0

    def log(self, record: dict[str, object]) -> None:
        """Called on the request path: O(1), no I/O."""
        self._queue.put(record)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fti-log", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def flush(self) -> int:
        records = []
        while True:
            try:
                records.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not records:
            return 0
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{self._prefix}-{self._sequence:06d}.jsonl"
        tmp = self.folder / f".{name}.tmp"
        with tmp.open("w") as out:
            for record in records:
                out.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
        os.replace(tmp, self.folder / name)
        return len(records)
