"""MLflow tracking and model registry: log a candidate, gate it, load the champion.

Aliases, not stages: ``champion`` is what batch scoring and the API load; ``challenger`` marks
a version that did not pass the gate. Models are serialized with skops and loaded with our own
list of trusted types, never with the list stored inside the model file, so a tampered model
cannot widen what it is allowed to construct.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import sklearn
import skops
import skops.io
import yaml
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline

from ml.settings import EXPERIMENT_NAME, MODEL_NAME, Paths

CHAMPION = "champion"
CHALLENGER = "challenger"
GATE_METRIC = "pr_auc"
# Types beyond skops' defaults that our pipelines contain; anything else in a model file is
# refused at load time.
TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    candidate_score: float
    champion_score: float | None


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


def decide(candidate: float, champion: float | None, tolerance: float = 0.0) -> GateDecision:
    """Promote when there is no champion, or the candidate is at least as good on the holdout."""
    if champion is None:
        return GateDecision(True, "first model: no champion yet", candidate, None)
    if candidate + tolerance >= champion:
        return GateDecision(
            True,
            f"{GATE_METRIC} {candidate:.4f} >= champion's {champion:.4f} on the same holdout",
            candidate,
            champion,
        )
    return GateDecision(
        False,
        f"{GATE_METRIC} {candidate:.4f} < champion's {champion:.4f} on the same holdout",
        candidate,
        champion,
    )


def champion_version(client: MlflowClient) -> str | None:
    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        return None


def _pip_requirements() -> list[str]:
    return [
        f"scikit-learn=={sklearn.__version__}",
        f"skops=={skops.__version__}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
    ]


def log_and_register(
    client: MlflowClient,
    model: Pipeline,
    sample: pd.DataFrame,
    params: dict[str, object],
    metrics: dict[str, float],
    report: str,
    tags: dict[str, str],
    champion_score: float | None,
) -> RegisteredModel:
    """Log the run and model, register a new version, and move ``champion`` if it passes."""
    decision = decide(metrics[GATE_METRIC], champion_score)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    with mlflow.start_run(experiment_id=experiment.experiment_id, run_name="train-churn") as run:
        mlflow.log_params(params)
        mlflow.log_metrics({f"holdout_{k}": v for k, v in metrics.items()})
        mlflow.log_text(report, "classification_report.txt")
        mlflow.log_dict({"columns": list(model.feature_names_in_)}, "feature_columns.json")
        mlflow.set_tags(
            {**tags, "gate.decision": str(decision.promote), "gate.reason": decision.reason}
        )
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(sample, model.predict_proba(sample)[:, 1]),
            pip_requirements=_pip_requirements(),
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=TRUSTED_TYPES,
            registered_model_name=MODEL_NAME,
        )
    version = str(info.registered_model_version)
    version_tags = {
        **{f"metrics.{k}": str(v) for k, v in metrics.items()},
        "gate.decision": "promoted" if decision.promote else "rejected",
        "gate.reason": decision.reason,
        **tags,
    }
    for key, value in version_tags.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
    alias = CHAMPION if decision.promote else CHALLENGER
    client.set_registered_model_alias(MODEL_NAME, alias, version)
    return RegisteredModel(MODEL_NAME, version, run.info.run_id, decision)


def load_version(client: MlflowClient, version: str) -> Pipeline:
    return _load_cached(client.tracking_uri, version)


@functools.lru_cache(maxsize=8)
def _load_cached(tracking_uri: str, version: str) -> Pipeline:
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{MODEL_NAME}/{version}", tracking_uri=tracking_uri
        )
    )
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["sklearn"]
    if flavor.get("serialization_format") != "skops":
        raise ValueError(
            f"model {MODEL_NAME} v{version} is stored as {flavor.get('serialization_format')!r}; "
            "only skops models are loaded"
        )
    try:
        return skops.io.load(local / flavor["pickled_model"], trusted=TRUSTED_TYPES)
    except skops.io.exceptions.UntrustedTypesFoundException as exc:
        raise ValueError(f"model {MODEL_NAME} v{version} holds untrusted types: {exc}") from exc


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
        "metrics": metrics,
        "aliases": list(mv.aliases),
        "gate": mv.tags.get("gate.reason"),
    }


def champion_summary(client: MlflowClient) -> dict[str, object] | None:
    version = champion_version(client)
    return None if version is None else version_summary(client, version)
