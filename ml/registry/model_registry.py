"""MLflow tracking and model registry: log a candidate, record the gate, move the aliases.

Aliases, not stages: ``champion`` is what batch scoring and the API load; ``challenger`` marks
a version that did not pass the gate. Every move of ``champion`` (the gate, `fti model
promote`, `fti model rollback`) goes through ``set_champion``, which keeps the succession in a
tag of the registered model so that a rollback knows which version to return to. Models are
serialized with skops and loaded with our own list of trusted types, never with the list
stored inside the model file, so a tampered model cannot widen what it is allowed to build;
the file's SHA-256 is recorded at registration and checked before every load, so a model file
changed after the gate judged it is refused rather than served.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import sklearn
import yaml
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline

from ml.common.errors import FtiError
from ml.common.faults import stall_point
from ml.common.settings import EXPERIMENT_NAME, MODEL_NAME, Paths
from ml.training.model_gate import GateDecision

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion.history"  # JSON list of versions, the current champion last
# JSON list of the alias's moves ({version, at, reason}), newest last, for the timeline the
# dashboard draws; a tag holds 5,000 characters, so only the latest moves are kept.
MOVES_TAG = "champion.moves"
KEEP_MOVES = 40
# Types beyond skops' defaults that our pipelines contain; anything else in a model file is
# refused at load time.
TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
]


CHECKSUM_TAG = "model.sha256"


class RegistryError(FtiError, ValueError):
    """A registry operation cannot be done as asked (unknown version, nothing to roll back)."""


class ModelFileError(RegistryError):
    """A stored model file is not the one registered, or holds types we do not trust."""


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    run_id: str
    decision: GateDecision


def configure(paths: Paths) -> MlflowClient:
    """Point MLflow at the project's store and make sure the experiment exists."""
    paths.mlflow_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(paths.tracking_uri)
    mlflow.set_registry_uri(paths.tracking_uri)
    client = MlflowClient(tracking_uri=paths.tracking_uri, registry_uri=paths.tracking_uri)
    if client.get_experiment_by_name(EXPERIMENT_NAME) is None:
        client.create_experiment(EXPERIMENT_NAME, artifact_location=paths.artifact_root.as_uri())
    return client


def alias_version(client: MlflowClient, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def champion_version(client: MlflowClient) -> str | None:
    return alias_version(client, CHAMPION)


def _pip_requirements() -> list[str]:
    return [
        f"scikit-learn=={sklearn.__version__}",
        f"skops=={importlib.metadata.version('skops')}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
    ]


def log_and_register(
    client: MlflowClient,
    model: Pipeline,
    sample: pd.DataFrame,
    params: dict[str, object],
    metrics: dict[str, float],
    tags: dict[str, str],
    decision: GateDecision,
    artifacts: Path | None = None,
) -> RegisteredModel:
    """Log the run, its evaluation artifacts and the model, register a new version, and move
    ``champion`` to it if the gate passed (else ``challenger``)."""
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    gate_tags = {"gate.decision": "promoted" if decision.promote else "rejected"}
    gate_tags["gate.reason"] = decision.reason
    for check in decision.checks:
        gate_tags[f"gate.{check.name}"] = f"{'pass' if check.passed else 'fail'}: {check.detail}"
    with mlflow.start_run(experiment_id=experiment.experiment_id, run_name="train-churn") as run:
        mlflow.log_params(params)
        mlflow.log_metrics({f"holdout_{k}": v for k, v in metrics.items()})
        mlflow.log_dict({"columns": list(model.feature_names_in_)}, "feature_columns.json")
        if artifacts is not None:
            mlflow.log_artifacts(str(artifacts), "evaluation")
        mlflow.set_tags({**tags, **gate_tags})
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(sample, model.predict_proba(sample)[:, 1]),
            pip_requirements=_pip_requirements(),
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=TRUSTED_TYPES,
        )
    stored = Path(mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri))
    # One registry call with every tag: setting ~40 tags one by one costs a SQLite
    # transaction each (most of a second).
    version_tags = {
        **{f"metrics.{k}": str(v) for k, v in metrics.items()},
        **gate_tags,
        **tags,
        CHECKSUM_TAG: _sha256(stored / _model_file(stored)),
    }
    try:
        client.get_registered_model(MODEL_NAME)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(MODEL_NAME)
    created = client.create_model_version(
        MODEL_NAME, info.model_uri, run_id=run.info.run_id, tags=version_tags
    )
    version = str(created.version)
    stall_point("registry")
    if decision.promote:
        set_champion(client, version, f"gate: {decision.reason}")
    else:
        client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    return RegisteredModel(MODEL_NAME, version, run.info.run_id, decision)


def champion_history(client: MlflowClient) -> list[str]:
    tags = client.get_registered_model(MODEL_NAME).tags
    return [str(v) for v in json.loads(tags.get(HISTORY_TAG, "[]"))]


def champion_moves(client: MlflowClient) -> list[dict[str, str]]:
    try:
        tags = client.get_registered_model(MODEL_NAME).tags
    except mlflow.exceptions.MlflowException:
        return []
    return json.loads(tags.get(MOVES_TAG, "[]"))


def set_champion(client: MlflowClient, version: str, reason: str) -> None:
    """Point ``champion`` at ``version`` and record the move; the one way the alias moves."""
    version = str(version)
    client.get_model_version(MODEL_NAME, version)  # raises for an unknown version
    history = [v for v in champion_history(client) if v != version] + [version]
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    moves = [*champion_moves(client), {"version": version, "at": stamp, "reason": reason[:120]}]
    moves = moves[-KEEP_MOVES:]
    while len(json.dumps(moves)) > 4900:
        moves.pop(0)
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    client.set_registered_model_tag(MODEL_NAME, HISTORY_TAG, json.dumps(history))
    client.set_registered_model_tag(MODEL_NAME, MOVES_TAG, json.dumps(moves))
    client.set_model_version_tag(MODEL_NAME, version, "champion.since", stamp)
    client.set_model_version_tag(MODEL_NAME, version, "champion.reason", reason)
    if alias_version(client, CHALLENGER) == version:
        client.delete_registered_model_alias(MODEL_NAME, CHALLENGER)


def rollback(client: MlflowClient) -> tuple[str, str]:
    """Return ``champion`` to the version that held it before; returns (from, to)."""
    current = champion_version(client)
    history = [v for v in champion_history(client) if v != current]
    existing = {str(mv.version) for mv in client.search_model_versions(f"name='{MODEL_NAME}'")}
    previous = [v for v in history if v in existing]
    if current is None or not previous:
        raise RegistryError("no previous champion to roll back to")
    target = previous[-1]
    set_champion(client, target, f"rollback from v{current}")
    # The rolled-back version leaves the succession: a second rollback goes further back.
    client.set_registered_model_tag(MODEL_NAME, HISTORY_TAG, json.dumps(previous))
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, current)
    return current, target


def list_versions(client: MlflowClient) -> list[dict[str, object]]:
    """Every registered version, newest first, with what `fti model list` shows."""
    try:
        versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    except mlflow.exceptions.MlflowException:
        return []
    return [
        version_summary(client, str(mv.version))
        for mv in sorted(versions, key=lambda mv: -int(mv.version))
    ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _model_file(local: Path) -> str:
    """The serialized model's file name inside a logged model folder; only skops is accepted."""
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["sklearn"]
    if flavor.get("serialization_format") != "skops":
        raise ModelFileError(
            f"model stored as {flavor.get('serialization_format')!r}; only skops models are loaded"
        )
    return flavor["pickled_model"]


def load_version(client: MlflowClient, version: str) -> Pipeline:
    """The registered model, after checking its file against the checksum taken at
    registration; raises ModelFileError naming the file when it differs or cannot be loaded."""
    expected = client.get_model_version(MODEL_NAME, version).tags.get(CHECKSUM_TAG)
    return _load_cached(client.tracking_uri, version, expected)


@functools.lru_cache(maxsize=8)
def _load_cached(tracking_uri: str, version: str, expected: str | None) -> Pipeline:
    what = f"model {MODEL_NAME} v{version}"
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{MODEL_NAME}/{version}", tracking_uri=tracking_uri
        )
    )
    try:
        path = local / _model_file(local)
    except ModelFileError as exc:
        raise ModelFileError(f"{what}: {exc}") from exc
    if expected is None:
        raise ModelFileError(f"{what} has no recorded checksum ({CHECKSUM_TAG}); re-register it")
    if _sha256(path) != expected:
        raise ModelFileError(
            f"{what}: the model file {path.name} changed after registration (SHA-256 "
            f"{_sha256(path)[:12]}... is not the recorded {expected[:12]}...); refusing to load it"
        )
    # Imported here: skops.io indexes every scikit-learn estimator as it loads (about 2 s),
    # which every process reading the registry (`fti status`, the dashboard, Dagster's code
    # location) would pay without ever loading a model.
    import skops.io

    try:
        return skops.io.load(path, trusted=TRUSTED_TYPES)
    except skops.io.exceptions.UntrustedTypesFoundException as exc:
        raise ModelFileError(f"{what} holds types outside the trusted list: {exc}") from exc
    except Exception as exc:  # a corrupt zip, or a file skops cannot read
        raise ModelFileError(f"{what}: the model file {path.name} cannot be read: {exc}") from exc


def version_summary(client: MlflowClient, version: str) -> dict[str, object]:
    """Name, version and holdout metrics of a registered version, as recorded in its tags."""
    mv = client.get_model_version(MODEL_NAME, version)
    metrics = {
        key.removeprefix("metrics."): float(value)
        for key, value in mv.tags.items()
        if key.startswith("metrics.")
    }
    return {
        "name": MODEL_NAME,
        "version": str(mv.version),
        "run_id": mv.run_id,
        "family": mv.tags.get("model.family"),
        "metrics": metrics,
        "aliases": sorted(mv.aliases),
        "gate": mv.tags.get("gate.decision"),
        "gate_reason": mv.tags.get("gate.reason"),
        "gate_checks": {
            k.removeprefix("gate."): v
            for k, v in mv.tags.items()
            if k.startswith("gate.") and k not in ("gate.decision", "gate.reason")
        },
        "feature_views": {
            k.removeprefix("feature_view."): v
            for k, v in mv.tags.items()
            if k.startswith("feature_view.")
        },
        "created": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(
            timespec="seconds"
        ),
    }


def evaluation_artifacts(client: MlflowClient, run_id: str, into: Path) -> Path | None:
    """The ``evaluation/`` folder a training run logged, copied under ``into``."""
    try:
        return Path(
            mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path="evaluation",
                dst_path=str(into),
                tracking_uri=client.tracking_uri,
            )
        )
    except (mlflow.exceptions.MlflowException, OSError):
        return None


def champion_summary(client: MlflowClient) -> dict[str, object] | None:
    version = champion_version(client)
    return None if version is None else version_summary(client, version)
