"""Online prediction by customer id: the champion model and the online store, kept current.

A request reads one immutable ``ServingState`` (champion, optional challenger, an open online
store); a background thread watches the registry's aliases and the store file, builds a new
state when any changes, and swaps the reference. A request therefore always runs against one
consistent set, a promotion or a store refresh needs no restart, and no request waits for a
model to load or fails during the swap. The warehouse is never opened: the online store is a
separate file swapped in atomically.

Champion/challenger: with ``challenger_share`` > 0, that share of customers (a stable hash of
the id, so a customer always meets the same variant) is scored by the ``challenger`` version;
every answer and log record names its variant.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline

from ml.common.errors import FtiError, NotFound, NotReady
from ml.common.model_input import categorical_columns, input_columns, model_input
from ml.common.settings import MODEL_NAME, Paths
from ml.features import on_demand
from ml.features.online_store import lookup, read_watermark, store_path
from ml.features.views import LINEAGE_TAG, required_views
from ml.inference.batch_scoring import risk_band
from ml.inference.compiled_trees import compile_classifier
from ml.monitoring.prediction_log import PredictionLogger
from ml.registry import model_registry

MAX_BATCH = 100  # ids per /predict/batch request
CHAMPION, CHALLENGER = "champion", "challenger"


class UnknownCustomer(NotFound):
    """Ids the online store does not hold (``ids`` lists them, in request order)."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__(f"unknown customer id(s): {', '.join(ids)}")
        self.ids = ids


class BeforeTheFeatures(FtiError):
    """A prediction asked for a time before the day of the features the online store holds:
    it holds each customer's latest features only, which that time could not have known."""

    http_status = 422


def check_as_of(when: datetime, watermark: dict[str, dict]) -> None:
    """Refuse ``when`` earlier than the day of any view's latest features (the online store's
    watermark); the day itself is allowed, as batch scoring as of that day uses them."""
    days = {
        view: datetime.fromisoformat(str(mark["as_of"])).date()
        for view, mark in watermark.items()
        if mark.get("as_of")  # a view with no rows yet
    }
    latest = max(days, key=days.get, default=None)
    if latest is not None and when.date() < days[latest]:
        raise BeforeTheFeatures(
            f"as_of {when.isoformat(timespec='seconds')} is before the features the online store "
            f"holds ({latest} as of {days[latest]}); it serves the latest features only, for "
            f"{days[latest]} or later: `fti features historical` gives those of a past time"
        )


@dataclass(frozen=True)
class Variant:
    name: str  # champion or challenger
    version: str
    model: Pipeline
    columns: list[str]
    categorical: frozenset[str]
    pinned: dict[str, int]  # view -> version the model was trained on
    feature_versions: dict[str, str]  # view -> "v1:<fingerprint>"
    scorer: Callable[[list[dict]], np.ndarray] | None = None

    def score(self, rows: list[dict]) -> np.ndarray:
        if self.scorer is not None:
            return self.scorer(rows)
        frame = pd.DataFrame(rows, columns=self.columns)
        x = model_input(frame, self.columns, self.categorical)
        return np.asarray(self.model.predict_proba(x)[:, 1])


@dataclass(frozen=True)
class ServingState:
    champion: Variant
    challenger: Variant | None
    store: sqlite3.Connection
    store_id: tuple[int, int]  # (inode, mtime_ns) of the store file the connection reads
    watermark: dict[str, dict[str, object]]
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def versions(self) -> tuple[str, str | None]:
        return self.champion.version, self.challenger.version if self.challenger else None


@dataclass(frozen=True)
class Prediction:
    customer_id: str
    churn_probability: float
    risk_band: str
    model_version: str
    variant: str
    as_of: str
    feature_versions: dict[str, str]
    features_as_of: dict[str, str]
    request_id: str


def _store_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def fast_scorer(model: Pipeline) -> Callable[[list[dict]], np.ndarray] | None:
    """Score feature dicts straight into the fitted classifier, skipping pandas.

    On one row, building a DataFrame, fixing its dtypes and running the ColumnTransformer
    cost several times what the tree ensemble does (bench/RESULTS.md). The preprocessing
    here is what the fitted ColumnTransformer does (numbers passed through as float64,
    one-hot columns in the encoder's category order, an unseen category all zeros, a missing
    one 'unknown'), so the probabilities are the pipeline's to the last bit (the API/batch
    parity test checks it). Pipelines whose numbers are transformed (imputed, scaled) keep
    the pandas path.
    """
    preprocess = model.named_steps["preprocess"]
    classifier = model.named_steps["classifier"]
    numeric: list[str] = []
    encoders = []
    declared = {name: transformer for name, transformer, _ in preprocess.transformers}
    for name, transformer, columns in preprocess.transformers_:
        if name == "numeric":
            # Fitted, "passthrough" becomes a FunctionTransformer: ask the declaration.
            if not (isinstance(declared.get(name), str) and declared[name] == "passthrough"):
                return None
            numeric = list(columns)
        elif name == "categorical":
            width = 0
            for column, categories in zip(columns, transformer.categories_, strict=True):
                encoders.append((column, {c: width + k for k, c in enumerate(categories)}))
                width += len(categories)
        elif transformer != "drop":
            return None
    n_numeric = len(numeric)
    width = n_numeric + sum(len(index) for _, index in encoders)
    compiled = compile_classifier(classifier)

    def classify(x: np.ndarray) -> np.ndarray:
        return classifier.predict_proba(x)[:, 1]

    predict = compiled or classify

    def score(rows: list[dict]) -> np.ndarray:
        x = np.zeros((len(rows), width), dtype=np.float64)
        for r, row in enumerate(rows):
            for j, column in enumerate(numeric):
                value = row.get(column)
                x[r, j] = np.nan if value is None else float(value)
            for column, index in encoders:
                value = row.get(column)
                slot = index.get("unknown" if value is None else str(value))
                if slot is not None:
                    x[r, n_numeric + slot] = 1.0
        return predict(x)

    return score


def in_challenger_bucket(customer_id: str, share: float) -> bool:
    digest = hashlib.blake2b(customer_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


class Predictor:
    """The serving core, without HTTP: ``predict(ids)`` on the current state."""

    def __init__(
        self,
        paths: Paths,
        refresh_seconds: float = 1.0,
        challenger_share: float = 0.0,
        logger: PredictionLogger | None = None,
    ) -> None:
        if not 0.0 <= challenger_share <= 1.0:
            raise ValueError(f"challenger share must be in [0, 1], got {challenger_share}")
        self.paths = paths
        self.refresh_seconds = refresh_seconds
        self.challenger_share = challenger_share
        self.logger = logger
        self._client = model_registry.configure(paths)  # once: configuring costs milliseconds
        self._state: ServingState | None = None
        self._problem = "starting"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()

    # -- keeping current ---------------------------------------------------------------
    def start(self) -> None:
        if self.logger is not None:
            self.logger.start()
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="fti-refresh", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.logger is not None:
            self.logger.stop()

    def _watch(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.refresh()
            except Exception as exc:  # keep serving the last good state
                self._problem = f"refresh failed: {exc}"

    def _variant(
        self, client: MlflowClient, name: str, version: str, watermark: dict
    ) -> tuple[Variant | None, str]:
        """The variant, or None and why the store cannot serve it."""
        state = self._state
        tags = client.get_model_version(MODEL_NAME, version).tags
        required = required_views(tags)
        for view, (view_version, fingerprint) in required.items():
            mark = watermark.get(f"{view}@{view_version}")
            if mark is None or mark["fingerprint"] != fingerprint:
                return None, (
                    f"{name} v{version} needs {view} v{view_version} ({fingerprint}), which the "
                    "online store does not hold: rematerialize it (`fti demo`) or promote a "
                    "version built on the stored features"
                )
        reuse = None
        if state is not None:
            for old in (state.champion, state.challenger):
                if old is not None and old.version == version:
                    reuse = old.model
        model = reuse or model_registry.load_version(client, version)
        return (
            Variant(
                name=name,
                version=version,
                model=model,
                columns=input_columns(model),
                categorical=categorical_columns(model),
                pinned={view: v for view, (v, _) in required.items()},
                feature_versions={
                    k.removeprefix(LINEAGE_TAG): v
                    for k, v in tags.items()
                    if k.startswith(LINEAGE_TAG)
                },
                scorer=fast_scorer(model),
            ),
            "",
        )

    def refresh(self) -> bool:
        """Build a new state if an alias or the store changed; True when swapped."""
        client = self._client
        champion = model_registry.alias_version(client, CHAMPION)
        challenger = (
            model_registry.alias_version(client, CHALLENGER) if self.challenger_share > 0 else None
        )
        path = store_path(self.paths)
        current_store = _store_id(path)
        state = self._state
        if champion is None or current_store is None:
            if state is None:
                self._problem = (
                    "no champion model: run `fti demo` (or `fti model promote VERSION`)"
                    if champion is None
                    else "no online store: run `fti demo` (asset online/feature_store)"
                )
            return False
        if (
            state is not None
            and state.versions == (champion, challenger)
            and state.store_id == current_store
        ):
            return False
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        watermark = read_watermark(db)
        served, problem = self._variant(client, CHAMPION, champion, watermark)
        if served is None:
            db.close()
            if state is None:
                self._problem = problem
                return False
            raise NotReady(problem)
        trial = None
        if challenger is not None and challenger != champion:
            trial, _ = self._variant(client, CHALLENGER, challenger, watermark)
        self._state = ServingState(served, trial, db, current_store, watermark)
        self._problem = ""
        # The previous connection is left to the garbage collector: a request may still be
        # reading through it.
        return True

    # -- serving -------------------------------------------------------------------------
    def state(self) -> ServingState:
        if self._state is None:
            raise NotReady(self._problem)
        return self._state

    def predict(self, ids: list[str], as_of: datetime | None = None) -> list[Prediction]:
        """Predictions for ``ids`` (all known) as of ``as_of`` (naive UTC; default now), in
        order; UnknownCustomer names the others."""
        started = time.perf_counter()
        when = as_of or datetime.now(UTC).replace(tzinfo=None)
        state = self.state()
        groups: dict[str, list[str]] = {}
        for i in ids:
            trial = state.challenger is not None and in_challenger_bucket(i, self.challenger_share)
            groups.setdefault(CHALLENGER if trial else CHAMPION, []).append(i)
        out: dict[str, Prediction] = {}
        logged = []
        for name, members in groups.items():
            variant = state.challenger if name == CHALLENGER else state.champion
            with state.lock:
                found = lookup(state.store, state.watermark, members, variant.pinned)
            if found.missing:
                raise UnknownCustomer(found.missing)
            check_as_of(when, found.watermark)
            rows = [dict(found.rows[i]) for i in members]
            if rows and on_demand.LAST_PURCHASE in rows[0]:
                days = on_demand.days_since_last_purchase(
                    [r[on_demand.LAST_PURCHASE] for r in rows], [when] * len(rows)
                )
                for row, value in zip(rows, days.tolist(), strict=True):
                    row[on_demand.DAYS_SINCE_LAST_PURCHASE] = None if value != value else value
            probabilities = variant.score(rows)
            as_of = {view: str(mark["as_of"]) for view, mark in found.watermark.items()}
            bands = risk_band(probabilities)
            for i, row, p, band in zip(members, rows, probabilities, bands, strict=True):
                out[i] = Prediction(
                    customer_id=i,
                    churn_probability=round(float(p), 6),
                    risk_band=str(band),
                    model_version=variant.version,
                    variant=name,
                    as_of=when.isoformat(timespec="seconds"),
                    feature_versions=variant.feature_versions,
                    features_as_of=as_of,
                    request_id=uuid.uuid4().hex,
                )
                logged.append((out[i], row))
        if self.logger is not None:
            latency = round((time.perf_counter() - started) * 1000.0, 3)
            now = time.time()
            for prediction, features in logged:
                self.logger.log(
                    {
                        **prediction.__dict__,
                        "logged_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)),
                        "latency_ms": latency,
                        "features": features,
                        "status": 200,
                    }
                )
        return [out[i] for i in ids]

    def describe(self) -> dict[str, object]:
        state = self.state()

        def variant(v: Variant) -> dict[str, object]:
            return {
                "version": v.version,
                "family": type(v.model.named_steps["classifier"]).__name__,
                "features": v.columns,
                "feature_versions": v.feature_versions,
            }

        return {
            "name": MODEL_NAME,
            **variant(state.champion),
            "challenger": variant(state.challenger) if state.challenger else None,
            "challenger_share": self.challenger_share if state.challenger else 0.0,
            "store": {
                mark["view"]: {k: mark[k] for k in ("version", "fingerprint", "as_of", "entities")}
                for mark in state.watermark.values()
                if state.champion.pinned.get(mark["view"]) == mark["version"]
            },
        }

    def health(self) -> dict[str, object]:
        state = self._state
        return {
            "status": "ok" if state is not None else "unavailable",
            "model_version": state.champion.version if state is not None else None,
            "problem": self._problem or None,
        }
