"""The registry: the gate's outcome moves the aliases, and promote/rollback keep a history."""

import numpy as np
import pandas as pd
import pytest

from ml.common import model_input
from ml.registry import model_registry
from ml.registry.model_registry import CHALLENGER, CHAMPION, MODEL_NAME, RegistryError
from ml.training import trainer
from tests.helpers import register, small, synthetic


def test_worse_model_is_never_promoted(fti_home):
    client = model_registry.configure(fti_home)
    params = small(30)
    train, holdout = synthetic(2000, seed=1), synthetic(1000, seed=2)

    good = register(client, trainer.fit(train, params), holdout, params)
    assert good.decision.promote
    assert model_registry.champion_version(client) == good.version

    # Deliberately worse: the same learner trained on shuffled labels.
    shuffled = train.assign(churned=np.random.default_rng(3).permutation(train["churned"]))
    bad = register(client, trainer.fit(shuffled, params), holdout, params)
    assert not bad.decision.promote
    assert model_registry.champion_version(client) == good.version
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHALLENGER).version) == bad.version
    tags = client.get_model_version(MODEL_NAME, bad.version).tags
    assert tags["gate.decision"] == "rejected"
    # Shuffled labels leave nothing to learn: it loses to the rule and to the champion.
    assert tags["gate.reason"].startswith("beats_baseline: pr_auc")
    assert tags["gate.not_worse_than_champion"].startswith("fail:")
    assert tags["gate.beats_baseline"].startswith("fail:")
    assert tags["gate.slice_floors"].startswith("pass:")

    # An equally good retrain (same data, same seed) passes: the gate is "at least as good".
    again = register(client, trainer.fit(train, params), holdout, params)
    assert again.decision.promote
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == again.version
    summary = model_registry.champion_summary(client)
    assert summary["metrics"]["pr_auc"] == pytest.approx(good.decision.candidate_score)

    # Rollback: the champion before the current one returns; the current one is challenger.
    assert model_registry.champion_history(client) == [good.version, again.version]
    assert model_registry.rollback(client) == (again.version, good.version)
    assert model_registry.champion_version(client) == good.version
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHALLENGER).version) == again.version
    with pytest.raises(RegistryError, match="no previous champion"):
        model_registry.rollback(client)
    # An operator's promotion is recorded and can be rolled back in turn.
    model_registry.set_champion(client, bad.version, "operator")
    assert model_registry.champion_version(client) == bad.version
    assert model_registry.rollback(client) == (bad.version, good.version)
    listed = model_registry.list_versions(client)
    assert [v["version"] for v in listed] == [again.version, bad.version, good.version]
    assert listed[-1]["aliases"] == [CHAMPION]


def test_loaded_champion_predicts_like_the_trained_model(fti_home):
    client = model_registry.configure(fti_home)
    params = small(20)
    train, holdout = synthetic(500, seed=4), synthetic(200, seed=5)
    model = trainer.fit(train, params)
    registered = register(client, model, holdout, params)
    loaded = model_registry.load_version(client, registered.version)
    np.testing.assert_array_equal(
        model_input.predict_proba(model, holdout), model_input.predict_proba(loaded, holdout)
    )


def test_time_split_purges_the_horizon():
    dates = pd.date_range("2024-01-01", periods=30, freq="7D")
    frame = pd.DataFrame(
        {"event_timestamp": np.repeat(dates, 2), "churned": np.tile([0, 1], 30), "x": 1.0}
    )
    split = trainer.time_split(frame, holdout_snapshots=4, horizon_days=90)
    assert split.holdout_start == dates[-4]
    assert split.train["event_timestamp"].max() <= dates[-4] - pd.Timedelta(days=90)
    assert split.holdout["event_timestamp"].min() == dates[-4]
    with pytest.raises(ValueError, match="need more than 40"):
        trainer.time_split(frame, holdout_snapshots=40, horizon_days=90)
