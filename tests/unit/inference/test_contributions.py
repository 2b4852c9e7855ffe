"""Each input's share of a prediction: the shares add up to the score, and they point where a
hand-built model says they must."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

from ml.common import model_input
from ml.inference.contributions import LOG_ODDS, PROBABILITY, explain
from ml.training import candidates


def frame(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 50, size=n).astype(float),
            "c": rng.choice(["x", "y", "z"], size=n).astype(object),
        }
    )
    x.loc[rng.uniform(size=n) < 0.1, "a"] = np.nan
    y = ((x["a"].fillna(0) + x["b"] / 25 + (x["c"] == "x")) > 1.5).astype(int)
    return x, y


@pytest.mark.parametrize("family", candidates.FAMILIES)
def test_shares_add_up_to_every_score(family):
    x, y = frame(1500, 0)
    params = candidates.Hyperparameters(hgb_max_iter=40, rf_n_estimators=15)
    model = candidates.fit(family, x, y, ["a", "b"], ["c"], params)
    rows, _ = frame(300, 1)
    rows = model_input.model_input(rows, ["a", "b", "c"], {"c"})
    explained = explain(model, rows)
    assert list(explained.shares.columns) == ["a", "b", "c"]
    total = explained.shares.sum(axis=1).to_numpy() + explained.base
    probability = model.predict_proba(rows)[:, 1]
    if explained.unit == LOG_ODDS:
        np.testing.assert_allclose(total, logit(probability), atol=1e-9)
    else:
        assert explained.unit == PROBABILITY
        np.testing.assert_allclose(total, probability, atol=1e-9)
    # Every input matters to this target: each moves some score.
    assert (explained.shares.abs().max() > 0.01).all()


def test_one_split_tree_by_hand():
    """A stump on ``a``: training rows split at -1.5 into 2 (no churner) and 3 (all churned).
    Root expectation (2 * 0 + 3 * 1) / 5 = 0.6; a row going right gets 1 - 0.6 on ``a``, a
    row going left 0 - 0.6; ``b`` is never split on and gets nothing."""
    x = pd.DataFrame({"a": [-3.0, -2.0, -1.0, 2.0, 3.0], "b": [0.0] * 5})
    y = pd.Series([0, 0, 1, 1, 1])
    forest = RandomForestClassifier(
        n_estimators=1, bootstrap=False, max_depth=1, max_features=None, random_state=0
    )
    model = Pipeline(
        [
            ("preprocess", ColumnTransformer([("numeric", "passthrough", ["a", "b"])])),
            ("classifier", forest),
        ]
    ).fit(x, y)
    explained = explain(model, pd.DataFrame({"a": [5.0, -5.0], "b": [1.0, 1.0]}))
    assert explained.base == pytest.approx([0.6, 0.6])
    assert explained.shares["a"].tolist() == pytest.approx([0.4, -0.6])
    assert explained.shares["b"].tolist() == [0.0, 0.0]


def test_logistic_regression_against_the_average_training_customer():
    """Numbers are standardized on the training rows, so a training-average customer has
    every term 0 and the base is the intercept; a value one training standard deviation
    above the mean contributes exactly its coefficient."""
    x, y = frame(1500, 0)
    model = candidates.fit(
        candidates.LOGISTIC_REGRESSION,
        x[["a", "b"]],
        y,
        ["a", "b"],
        [],
        candidates.Hyperparameters(),
    )
    classifier = model.named_steps["classifier"]
    scaler = model.named_steps["preprocess"].named_transformers_["numeric"][-1]
    rows, _ = frame(50, 1)
    explained = explain(model, rows[["a", "b"]])
    assert explained.base == pytest.approx(np.full(50, classifier.intercept_[0]))
    # b is never missing, so it became one scaled column: coefficient b is the last one
    b_mean, b_scale = scaler.mean_[1], scaler.scale_[1]
    one_sd = pd.DataFrame({"a": [np.nan], "b": [b_mean + b_scale]})
    share = explain(model, one_sd).shares["b"].iloc[0]
    assert share == pytest.approx(classifier.coef_[0][1])
