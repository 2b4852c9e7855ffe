"""Online prediction by customer id: the champion model and the online store, kept current.

A request reads one immutable ``ServingState`` (model, its feature view versions, an open
online store); a background thread watches the registry's ``champion`` alias and the store
file, builds a new state when either changes, and swaps the reference. A request therefore
always runs against one consistent pair, a promotion or a store refresh needs no restart,
and no request waits for a model to load or fails during the swap. The warehouse is never
opened: the online store is a separate file swapped in atomically.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ml import registry
from ml.feature_views import LINEAGE_TAG, required_views
from ml.online_store import (
    OnlineFeatures,
    lookup,
    read_watermark,
    store_path,
)
from ml.scoring import risk_band
from ml.settings import MODEL_NAME, Paths
from ml.training import categorical_columns, input_columns, model_input

MAX_BATCH = 100  # ids per /predict/batch request


class NotReady(RuntimeError):
    """Nothing can be served yet (no champion, no online store); the message says what to run."""


class UnknownCustomer(KeyError):
    pass


@dataclass(frozen=True)
class ServingState:
    version: str
    model: Pipeline
    columns: list[str]
    categorical: frozenset[str]
    pinned: dict[str, int]  # view -> version the model was trained on
    feature_versions: dict[str, str]  # view -> "v1:<fingerprint>"
    store: sqlite3.Connection
    store_id: tuple[int, int]  # (inode, mtime_ns) of the store file the connection reads
    watermark: dict[str, dict[str, object]]
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Prediction:
    customer_id: str
    churn_probability: float
    risk_band: str
    model_version: str
    feature_versions: dict[str, str]
    features_as_of: dict[str, str]
    request_id: str


def _store_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


class Predictor:
    """The serving core, without HTTP: ``predict(ids)`` on the current state."""

    def __init__(self, paths: Paths, refresh_seconds: float = 1.0) -> None:
        self.paths = paths
        self.refresh_seconds = refresh_seconds
        self._state: ServingState | None = None
        self._problem = "starting"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()

    # -- keeping current ---------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="fti-refresh", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception as exc:  # keep serving the last good state
                self._problem = f"refresh failed: {exc}"

    def refresh(self) -> bool:
        """Build a new state if the champion or the store changed; True when swapped."""
        client = registry.configure(self.paths)
        version = registry.champion_version(client)
        path = store_path(self.paths)
        current_store = _store_id(path)
        state = self._state
        if version is None:
            if state is None:
                self._problem = (
                    "no champion model: run `fti demo` (or promote a version with "
                    "`fti model promote`)"
                )
            return False
        if current_store is None:
            if state is None:
                self._problem = (
                    "no online store: run `fti demo` to materialize online/feature_store"
                )
            return False
        if state is not None and state.version == version and state.store_id == current_store:
            return False
        tags = client.get_model_version(MODEL_NAME, version).tags
        model = (
            state.model
            if state is not None and state.version == version
            else registry.load_version(client, version)
        )
        required = required_views(tags)
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        watermark = read_watermark(db)
        for name, (view_version, fingerprint) in required.items():
            mark = watermark.get(f"{name}@{view_version}")
            if mark is None or mark["fingerprint"] != fingerprint:
                db.close()
                problem = (
                    f"champion v{version} needs {name} v{view_version} ({fingerprint}), which "
                    "the online store does not hold: rematerialize it (`fti demo`) or promote "
                    "a version built on the stored features"
                )
                if state is None:
                    self._problem = problem
                    return False
                raise NotReady(problem)
        self._state = ServingState(
            version=version,
            model=model,
            columns=input_columns(model),
            categorical=categorical_columns(model),
            pinned={name: v for name, (v, _) in required.items()},
            feature_versions={
                k.removeprefix(LINEAGE_TAG): v for k, v in tags.items() if k.startswith(LINEAGE_TAG)
            },
            store=db,
            store_id=current_store,
            watermark=watermark,
        )
        self._problem = ""
        # The previous connection is left to the garbage collector: a request may still be
        # reading through it.
        return True

    # -- serving -------------------------------------------------------------------------
    def state(self) -> ServingState:
        if self._state is None:
            raise NotReady(self._problem)
        return self._state

    def features(self, state: ServingState, ids: list[str]) -> OnlineFeatures:
        with state.lock:
            return lookup(state.store, state.watermark, ids, state.pinned)

    def predict(self, ids: list[str]) -> list[Prediction]:
        """Predictions for ``ids`` (all known), in order; UnknownCustomer names the others."""
        state = self.state()
        found = self.features(state, ids)
        if found.missing:
            raise UnknownCustomer(found.missing)
        frame = pd.DataFrame([found.rows[i] for i in ids], columns=state.columns)
        x = model_input(frame, state.columns, state.categorical)
        probabilities = state.model.predict_proba(x)[:, 1]
        bands = risk_band(probabilities)
        as_of = {view: str(mark["as_of"]) for view, mark in found.watermark.items()}
        return [
            Prediction(
                customer_id=i,
                churn_probability=round(float(p), 6),
                risk_band=str(b),
                model_version=state.version,
                feature_versions=state.feature_versions,
                features_as_of=as_of,
                request_id=uuid.uuid4().hex,
            )
            for i, p, b in zip(ids, np.asarray(probabilities), bands, strict=True)
        ]

    def describe(self) -> dict[str, object]:
        state = self.state()
        return {
            "name": MODEL_NAME,
            "version": state.version,
            "family": type(state.model.named_steps["classifier"]).__name__,
            "features": state.columns,
            "feature_versions": state.feature_versions,
            "store": {
                mark["view"]: {k: mark[k] for k in ("version", "fingerprint", "as_of", "entities")}
                for mark in state.watermark.values()
                if state.pinned.get(mark["view"]) == mark["version"]
            },
        }

    def health(self) -> dict[str, object]:
        ok = self._state is not None
        return {
            "status": "ok" if ok else "unavailable",
            "model_version": self._state.version if ok else None,
            "problem": self._problem or None,
            "checked_at": time.time(),
        }
