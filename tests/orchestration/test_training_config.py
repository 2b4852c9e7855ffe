"""Training's Dagster config is generated from ``TrainingParams``: one declaration of every
setting, its default and its description."""

import dataclasses

import dagster as dg
import pytest

from ml.training.candidates import Hyperparameters
from ml.training.trainer import TrainingParams
from orchestration.lib.training_config import (
    TrainingConfig,
    TrainingConfigError,
    read_training_config,
)


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


def _file(tmp_path, text: str):
    path = tmp_path / "training.yml"
    path.write_text(text)
    return path


def test_a_settings_file_gives_the_config_dagster_runs_with(tmp_path):
    path = _file(tmp_path, "candidates: [logistic_regression]\ncv_folds: 1\nlr_c: 0.5\n")
    values = read_training_config(path)
    assert values == {"candidates": ["logistic_regression"], "cv_folds": 1, "lr_c": 0.5}
    params = TrainingConfig(**values).params()
    assert params.candidates == ("logistic_regression",) and params.cv_folds == 1
    assert params.hyperparameters.lr_c == 0.5
    assert read_training_config(_file(tmp_path, "")) == {}  # every default


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("cv_fold: 1\n", "no setting named cv_fold"),
        ("cv_folds: two\n", "cv_folds: Input should be a valid integer"),
        ("candidates: [logistic_regression, xgboost]\n", "unknown candidates xgboost"),
        ("- cv_folds\n", "expected a mapping"),
        ("cv_folds: [1\n", "not valid YAML"),
    ],
)
def test_a_wrong_settings_file_is_refused_naming_the_problem(tmp_path, text, named):
    with pytest.raises(TrainingConfigError, match=named):
        read_training_config(_file(tmp_path, text))


def test_the_cli_refuses_a_wrong_settings_file_before_running(tmp_path, monkeypatch, capsys):
    """Exit code 2 and the file's problem; nothing is loaded or built."""
    from orchestration.cli import main
    from tests.helpers import point_env_at

    home = tmp_path / "home"
    point_env_at(home, monkeypatch)
    assert main(["demo", "--training-config", str(_file(tmp_path, "cv_fold: 1\n"))]) == 2
    assert "no setting named cv_fold" in capsys.readouterr().err
    assert not home.exists()
    missing = str(tmp_path / "nowhere.yml")
    assert main(["demo", "--training-config", missing]) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_the_homes_settings_are_used_unless_a_run_gives_its_own(tmp_path):
    """`FTI_HOME/training_settings.yml` is what a run trains with when it names no file; a
    file given to the run wins; without either, the config's defaults."""
    from ml.common.settings import Paths
    from orchestration.lib.training_config import training_run_config, training_settings

    paths = Paths(tmp_path)
    assert training_settings(paths) is None and training_run_config(paths) == {}
    paths.training_settings.write_text("candidates: [random_forest]\nrf_max_depth: 4\n")
    home = {"candidates": ["random_forest"], "rf_max_depth": 4}
    assert training_settings(paths) == home
    assert training_run_config(paths) == {"ops": {"models__churn_model": {"config": home}}}
    given = _file(tmp_path, "cv_folds: 1\n")
    assert training_settings(paths, given) == {"cv_folds": 1}


def test_the_cli_refuses_a_wrong_home_settings_file_before_running(tmp_path, monkeypatch, capsys):
    from orchestration.cli import main
    from tests.helpers import point_env_at

    paths = point_env_at(tmp_path / "home", monkeypatch)
    paths.home.mkdir()
    paths.training_settings.write_text("candidates: [xgboost]\n")
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "training_settings.yml" in err and "unknown candidates xgboost" in err
    assert not paths.warehouse.exists()
