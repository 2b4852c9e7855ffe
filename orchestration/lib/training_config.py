"""The training asset's Dagster config, generated from ``TrainingParams`` and its
hyperparameters: each setting is declared once, with its default and description, in ``ml``."""

from __future__ import annotations

import dataclasses
import typing

import dagster as dg
import pydantic

from ml.training.candidates import Hyperparameters
from ml.training.trainer import TrainingParams


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
