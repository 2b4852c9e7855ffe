"""The model families compared by the training pipeline, each a complete scikit-learn Pipeline.

Each family gets the preprocessing it needs inside its own Pipeline (the logistic regression
imputes and scales, the tree ensembles take missing values as they are), so the registered
object is the whole thing that scores and nothing is fitted outside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

LOGISTIC_REGRESSION = "logistic_regression"
HIST_GRADIENT_BOOSTING = "hist_gradient_boosting"
RANDOM_FOREST = "random_forest"
FAMILIES = (LOGISTIC_REGRESSION, HIST_GRADIENT_BOOSTING, RANDOM_FOREST)


def described(default: object, description: str) -> object:
    """A dataclass field that says what it means: the training asset's Dagster config is
    generated from these fields, descriptions included, so they are declared only here."""
    return field(default=default, metadata={"description": description})


@dataclass(frozen=True)
class Hyperparameters:
    """Per-family settings; the training asset exposes every one as Dagster config."""

    lr_c: float = described(0.5, "Logistic regression: inverse L2.")
    hgb_max_iter: int = described(200, "Boosting iterations.")
    hgb_learning_rate: float = described(0.05, "Shrinkage.")
    hgb_max_leaf_nodes: int = described(31, "Leaves per boosted tree.")
    hgb_l2_regularization: float = described(1.0, "L2 penalty on leaf values.")
    rf_n_estimators: int = described(120, "Forest size.")
    rf_max_depth: int = described(12, "Depth of each tree.")
    rf_min_samples_leaf: int = described(20, "Rows per leaf, at least.")
    rf_max_samples: float = described(0.5, "Share of rows each tree is grown on.")
    random_state: int = described(0, "Seed of every learner.")


def _one_hot() -> OneHotEncoder:
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)


def build(
    family: str, numeric: list[str], categorical: list[str], params: Hyperparameters
) -> Pipeline:
    if family == LOGISTIC_REGRESSION:
        numbers = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
        )
        classifier = LogisticRegression(C=params.lr_c, max_iter=2000)
    elif family == HIST_GRADIENT_BOOSTING:
        numbers = "passthrough"
        classifier = HistGradientBoostingClassifier(
            max_iter=params.hgb_max_iter,
            learning_rate=params.hgb_learning_rate,
            max_leaf_nodes=params.hgb_max_leaf_nodes,
            l2_regularization=params.hgb_l2_regularization,
            early_stopping=False,
            random_state=params.random_state,
        )
    elif family == RANDOM_FOREST:
        numbers = "passthrough"
        # Trained on every core; set to one core before registering, because a single-row
        # predict on every core pays joblib's start-up each time (bench/RESULTS.md).
        classifier = RandomForestClassifier(
            n_estimators=params.rf_n_estimators,
            max_depth=params.rf_max_depth,
            min_samples_leaf=params.rf_min_samples_leaf,
            max_samples=params.rf_max_samples,
            n_jobs=-1,
            random_state=params.random_state,
        )
    else:
        raise ValueError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    preprocess = ColumnTransformer(
        [("numeric", numbers, numeric), ("categorical", _one_hot(), categorical)],
        verbose_feature_names_out=False,
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def for_serving(model: Pipeline) -> Pipeline:
    """The fitted pipeline set to predict on one core (see ``build``)."""
    classifier = model.named_steps["classifier"]
    if hasattr(classifier, "n_jobs"):
        classifier.set_params(n_jobs=1)
    return model


def family_of(model: Pipeline) -> str:
    kind = type(model.named_steps["classifier"])
    return {
        LogisticRegression: LOGISTIC_REGRESSION,
        HistGradientBoostingClassifier: HIST_GRADIENT_BOOSTING,
        RandomForestClassifier: RANDOM_FOREST,
    }[kind]


def fit(
    family: str,
    x: pd.DataFrame,
    y: pd.Series,
    numeric: list[str],
    categorical: list[str],
    params: Hyperparameters,
) -> Pipeline:
    """Fit a family on a model input (``training.model_input``) and its labels."""
    return build(family, numeric, categorical, params).fit(x, y)
