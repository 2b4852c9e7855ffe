"""The training asset's Dagster config, generated from ``TrainingParams`` and its
hyperparameters: each setting is declared once, with its default and description, in ``ml``."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import dagster as dg
import pydantic
import yaml

from ml.common.errors import FtiError
from ml.common.settings import Paths
from ml.training.candidates import FAMILIES, Hyperparameters
from ml.training.trainer import TrainingParams
from orchestration.lib.keys import TRAINING_OP


class _TrainingConfigBase(dg.Config):
    def params(self) -> TrainingParams:
        return TrainingParams.from_flat(self.model_dump())


def _config_fields() -> dict[str, tuple[object, pydantic.fields.FieldInfo]]:
    hints = {
        **typing.get_type_hints(TrainingParams),
        **typing.get_type_hints(Hyperparameters),
    }
    found = {}
    for owner in (TrainingParams, Hyperparameters):
        for f in dataclasses.fields(owner):
            if f.name == "hyperparameters":
                continue
            kind, default = hints[f.name], f.default
            if typing.get_origin(kind) is tuple:  # Dagster config takes lists, not tuples
                kind, default = list[typing.get_args(kind)[0]], list(default)
            found[f.name] = (
                kind,
                pydantic.Field(default=default, description=f.metadata.get("description")),
            )
    return found


TrainingConfig = pydantic.create_model(
    "TrainingConfig", __base__=_TrainingConfigBase, **_config_fields()
)


class TrainingConfigError(FtiError, ValueError):
    """A training-settings file that cannot be used as it is."""


def read_training_config(path: Path) -> dict[str, object]:
    """The training settings in a YAML file, keyed as the asset's config (what Dagster's
    launchpad shows under ``ops: models__churn_model: config:``), checked before any run
    starts: a misspelt name or a wrong type would otherwise fail the run at its training step,
    after the features were rebuilt."""
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise TrainingConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise TrainingConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(values, dict):
        raise TrainingConfigError(f"{path}: expected a mapping of setting: value")
    settings = TrainingConfig.model_fields
    unknown = sorted(set(values) - set(settings))
    if unknown:
        raise TrainingConfigError(
            f"{path}: no setting named {', '.join(unknown)}; the settings: {', '.join(settings)}"
        )
    try:
        TrainingConfig(**values)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
        )
        raise TrainingConfigError(f"{path}: {problems}") from None
    unknown = sorted(set(values.get("candidates", ())) - set(FAMILIES))
    if unknown:
        raise TrainingConfigError(
            f"{path}: unknown candidates {', '.join(unknown)}; known: {', '.join(FAMILIES)}"
        )
    return values


def training_settings(paths: Paths, path: Path | None = None) -> dict[str, object] | None:
    """The settings a run trains with: those of ``path`` when given, else the home's
    ``training_settings.yml`` when it exists, else none (the config's defaults). A run nobody
    launched by hand (the weekly schedule, a retraining request) thus trains as the user's
    own runs do."""
    if path is None:
        path = paths.training_settings
        if not path.exists():
            return None
    return read_training_config(path)


def training_run_config(paths: Paths) -> dict[str, object]:
    """Run config carrying the home's training settings (empty without them): shown with the
    run in Dagster's UI."""
    settings = training_settings(paths)
    return {"ops": {TRAINING_OP: {"config": settings}}} if settings else {}
