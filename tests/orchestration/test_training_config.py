"""Training's Dagster config is generated from ``TrainingParams``: one declaration of every
setting, its default and its description."""

import dataclasses

import dagster as dg
import pytest

from ml.training.candidates import Hyperparameters
from ml.training.trainer import TrainingParams
from orchestration.lib.training_config import TrainingConfig


def _declared() -> dict[str, dataclasses.Field]:
    found = {f.name: f for f in dataclasses.fields(TrainingParams) if f.name != "hyperparameters"}
    return {**found, **{f.name: f for f in dataclasses.fields(Hyperparameters)}}


def test_every_setting_is_config_with_its_default_and_description():
    config_fields = TrainingConfig.model_fields
    declared = _declared()
    assert set(config_fields) == set(declared)
    for name, f in declared.items():
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        assert config_fields[name].default == default, name
        assert config_fields[name].description == f.metadata["description"], name


def test_defaults_give_the_default_params():
    assert TrainingConfig().params() == TrainingParams()


def test_overrides_reach_top_level_settings_and_hyperparameters():
    params = TrainingConfig(candidates=["random_forest"], cv_folds=2, rf_max_depth=3).params()
    assert params.candidates == ("random_forest",)
    assert params.cv_folds == 2
    assert params.hyperparameters.rf_max_depth == 3
    assert params.hyperparameters.hgb_max_iter == Hyperparameters().hgb_max_iter


def test_flat_params_round_trip():
    params = TrainingParams(cv_folds=5, hyperparameters=Hyperparameters(lr_c=2.0))
    assert TrainingParams.from_flat(params.flat()) == params


def test_dagster_validates_the_generated_config():
    @dg.asset
    def needs_config(config: TrainingConfig) -> int:
        return config.params().cv_folds

    run_config = {"ops": {"needs_config": {"config": {"cv_folds": 2}}}}
    assert dg.materialize([needs_config], run_config=run_config).success
    wrong = {"ops": {"needs_config": {"config": {"cv_folds": "two"}}}}
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.materialize([needs_config], run_config=wrong)
