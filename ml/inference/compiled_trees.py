"""A fitted HistGradientBoostingClassifier evaluated in plain Python, for a few rows at a time.

scikit-learn predicts tree by tree, each through an OpenMP loop whose set-up, paid per tree,
is the largest part of an online request for one row (bench/RESULTS.md). Here each tree's
nodes are Python lists and one row walks them (~7 comparisons per tree). It is the same
arithmetic in the same order (threshold tests in float64, missing values routed as the tree
says, leaf values added to the baseline one iteration after another, the model's own link
function), so the probabilities are bit-identical to ``predict_proba`` (tested).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier


def compile_classifier(
    model: HistGradientBoostingClassifier,
) -> Callable[[np.ndarray], np.ndarray] | None:
    """A function from a float64 matrix to P(class 1), or None when the model is outside
    what this covers (multiclass, native categorical features)."""
    if not isinstance(model, HistGradientBoostingClassifier):
        return None
    if model.n_trees_per_iteration_ != 1 or (
        model.is_categorical_ is not None and np.any(model.is_categorical_)
    ):
        return None
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        trees.append(
            (
                nodes["feature_idx"].tolist(),
                nodes["num_threshold"].tolist(),
                nodes["left"].tolist(),
                nodes["right"].tolist(),
                nodes["missing_go_to_left"].tolist(),
                nodes["is_leaf"].tolist(),
                nodes["value"].tolist(),
            )
        )
    baseline = float(model._baseline_prediction.ravel()[0])
    loss = model._loss

    def predict_proba(x: np.ndarray) -> np.ndarray:
        raw = np.empty((x.shape[0], 1), dtype=np.float64)
        for r, row in enumerate(x.tolist()):
            total = 0.0 + baseline
            for feature, threshold, left, right, missing_left, leaf, value in trees:
                i = 0
                while not leaf[i]:
                    v = row[feature[i]]
                    if v != v:  # NaN
                        i = left[i] if missing_left[i] else right[i]
                    elif v <= threshold[i]:
                        i = left[i]
                    else:
                        i = right[i]
                total += value[i]
            raw[r, 0] = total
        return loss.predict_proba(raw)[:, 1]

    return predict_proba
