"""The model-input contract: what training, batch scoring and online serving all agree on.

A row is keyed by the entity and the time it describes; a model takes its input columns by
name, numbers as float64 and categories as object. Training fits on this, batch scoring and
the API feed it, so the three cannot disagree about a column's name or type.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # a type only: readers of the monitoring report never import scikit-learn
    from sklearn.pipeline import Pipeline

ENTITY = "customer_id"
TIME = "event_timestamp"  # the spine time of a training row (its as-of date)
KEY_COLUMNS = (ENTITY, TIME)
LABEL = "churned"


def model_input(
    frame: pd.DataFrame, columns: list[str], categorical: Collection[str] | None = None
) -> pd.DataFrame:
    """The columns a model needs, with numbers as float64 and categories as object.

    Fixing dtypes here keeps the MLflow signature, batch scoring and the online API on the
    same schema whatever DuckDB returned (integers, decimals, nullable types). A fitted
    model says which columns are categorical (``categorical_columns``): a one-row request
    whose numeric feature is null cannot tell by its dtype.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"feature column(s) missing from the input: {', '.join(missing)}")
    out = frame[columns].copy()
    for c in columns:
        if categorical is None:
            numeric = pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c])
        else:
            numeric = c not in categorical
        if numeric:
            out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
        else:
            out[c] = out[c].astype(object).where(out[c].notna(), "unknown")
    return out


def input_columns(model: Pipeline) -> list[str]:
    return list(model.feature_names_in_)


def categorical_columns(model: Pipeline) -> frozenset[str]:
    preprocess = model.named_steps["preprocess"]
    return frozenset(
        column
        for name, _, columns in preprocess.transformers_
        if name == "categorical"
        for column in columns
    )


def predict_proba(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    x = model_input(frame, input_columns(model), categorical_columns(model))
    return model.predict_proba(x)[:, 1]
