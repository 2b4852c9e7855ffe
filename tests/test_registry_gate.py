"""The promotion gate: only a model at least as good as the champion becomes champion."""

import numpy as np
import pandas as pd
import pytest

from ml import registry, training
from ml.registry import CHALLENGER, CHAMPION, MODEL_NAME, decide


def test_decide():
    assert decide(0.7, None).promote
    assert decide(0.8, 0.8).promote
    assert decide(0.81, 0.8).promote
    worse = decide(0.79, 0.8)
    assert not worse.promote
    assert "0.7900 < champion's 0.8000" in worse.reason
    assert decide(0.79, 0.8, tolerance=0.02).promote


def synthetic(n: int, seed: int) -> pd.DataFrame:
    """A tiny training-set-shaped frame whose label depends on recency."""
    rng = np.random.default_rng(seed)
    recency = rng.integers(0, 200, size=n)
    churned = (rng.uniform(size=n) < recency / 200).astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "event_timestamp": pd.Timestamp("2024-01-01"),
            "recency_days": recency,
            "spend_90d": rng.gamma(2.0, 30.0, size=n),
            "country": rng.choice(["DE", "FR"], size=n),
            "churned": churned,
        }
    )


def register(client, model, holdout, params):
    evaluation = training.evaluate(model, holdout, params.threshold)
    champion = registry.champion_version(client)
    champion_score = None
    if champion is not None:
        previous = registry.load_version(client, champion)
        champion_score = training.evaluate(previous, holdout, params.threshold).metrics["pr_auc"]
    return registry.log_and_register(
        client,
        model,
        sample=training.model_input(holdout.head(20), training.input_columns(model)),
        params={"kind": "test"},
        metrics=evaluation.metrics,
        report=evaluation.report,
        tags={"test": "yes"},
        champion_score=champion_score,
    )


def test_worse_model_is_never_promoted(fti_home):
    client = registry.configure(fti_home)
    params = training.TrainingParams(max_iter=30)
    train, holdout = synthetic(2000, seed=1), synthetic(1000, seed=2)

    good = register(client, training.fit(train, params), holdout, params)
    assert good.decision.promote
    assert registry.champion_version(client) == good.version

    # Deliberately worse: the same learner trained on shuffled labels.
    shuffled = train.assign(churned=np.random.default_rng(3).permutation(train["churned"]))
    bad = register(client, training.fit(shuffled, params), holdout, params)
    assert not bad.decision.promote
    assert registry.champion_version(client) == good.version
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHALLENGER).version) == bad.version
    tags = client.get_model_version(MODEL_NAME, bad.version).tags
    assert tags["gate.decision"] == "rejected"
    assert "< champion's" in tags["gate.reason"]

    # An equally good retrain (same data, same seed) passes: the gate is "at least as good".
    again = register(client, training.fit(train, params), holdout, params)
    assert again.decision.promote
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == again.version
    summary = registry.champion_summary(client)
    assert summary["metrics"]["pr_auc"] == pytest.approx(good.decision.candidate_score)


def test_loaded_champion_predicts_like_the_trained_model(fti_home):
    client = registry.configure(fti_home)
    params = training.TrainingParams(max_iter=20)
    train, holdout = synthetic(500, seed=4), synthetic(200, seed=5)
    model = training.fit(train, params)
    registered = register(client, model, holdout, params)
    loaded = registry.load_version(client, registered.version)
    np.testing.assert_array_equal(
        training.predict_proba(model, holdout), training.predict_proba(loaded, holdout)
    )


def test_time_split_purges_the_horizon():
    dates = pd.date_range("2024-01-01", periods=30, freq="7D")
    frame = pd.DataFrame(
        {"event_timestamp": np.repeat(dates, 2), "churned": np.tile([0, 1], 30), "x": 1.0}
    )
    split = training.time_split(frame, holdout_snapshots=4, horizon_days=90)
    assert split.holdout_start == dates[-4]
    assert split.train["event_timestamp"].max() <= dates[-4] - pd.Timedelta(days=90)
    assert split.holdout["event_timestamp"].min() == dates[-4]
    with pytest.raises(ValueError, match="need more than 40"):
        training.time_split(frame, holdout_snapshots=40, horizon_days=90)
