"""Model selection by rolling-origin validation over snapshot dates, never random folds.

Random folds would put a customer's week-later snapshot in training and the week-earlier one
in validation: the future would grade the past. Each fold here validates on a block of
consecutive snapshot dates and trains only on rows whose label window closed before that
block starts (the churn horizon is purged), as the final holdout does. Folds step back from
the end of the training period, so the last fold is the closest to the present.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from ml.common.model_input import LABEL, TIME, model_input
from ml.training import candidates
from ml.training.trainer import TrainingParams, feature_columns

SELECTION_METRIC = "pr_auc"


@dataclass(frozen=True)
class Fold:
    index: int
    train_end: pd.Timestamp
    validation_start: pd.Timestamp
    validation_end: pd.Timestamp
    train_rows: np.ndarray  # positions in the frame
    validation_rows: np.ndarray


@dataclass(frozen=True)
class Selection:
    best: str
    reason: str
    scores: dict[str, float]  # family -> mean validation PR AUC over the folds
    table: pd.DataFrame  # one row per family and fold


def rolling_origin_folds(
    frame: pd.DataFrame, folds: int, fold_snapshots: int, horizon_days: int
) -> list[Fold]:
    """Up to ``folds`` folds; a fold without both classes on either side is skipped."""
    as_of = pd.to_datetime(frame[TIME]).to_numpy()
    dates = np.sort(np.unique(as_of))
    labels = frame[LABEL].to_numpy()
    out = []
    for k in range(folds):
        stop = len(dates) - k * fold_snapshots
        start = stop - fold_snapshots
        if start <= 0:
            break
        validation_start, validation_end = dates[start], dates[stop - 1]
        train_end = pd.Timestamp(validation_start) - pd.Timedelta(days=horizon_days)
        train = np.flatnonzero(as_of <= np.datetime64(train_end))
        validation = np.flatnonzero((as_of >= validation_start) & (as_of <= validation_end))
        if len(np.unique(labels[train])) < 2 or len(np.unique(labels[validation])) < 2:
            continue
        out.append(
            Fold(
                index=k,
                train_end=train_end,
                validation_start=pd.Timestamp(validation_start),
                validation_end=pd.Timestamp(validation_end),
                train_rows=train,
                validation_rows=validation,
            )
        )
    return out


def select_model(train: pd.DataFrame, params: TrainingParams) -> Selection:
    """The family with the best mean validation PR AUC; ties go to the earlier candidate."""
    if not params.candidates:
        raise ValueError("no candidate model families configured")
    for family in params.candidates:
        if family not in candidates.FAMILIES:
            raise ValueError(
                f"unknown model family {family!r}; known: {', '.join(candidates.FAMILIES)}"
            )
    folds = rolling_origin_folds(
        train, params.cv_folds, params.cv_fold_snapshots, params.horizon_days
    )
    if len(params.candidates) == 1 or not folds:
        why = (
            "the only candidate"
            if len(params.candidates) == 1
            else "too little history for a rolling-origin fold; the first candidate is kept"
        )
        return Selection(params.candidates[0], why, {}, pd.DataFrame())
    numeric, categorical = feature_columns(train)
    columns = numeric + categorical
    rows = []
    for fold in folds:
        fold_train = train.iloc[fold.train_rows]
        if len(fold_train) > params.cv_max_rows:
            fold_train = fold_train.sample(
                params.cv_max_rows, random_state=params.hyperparameters.random_state
            )
        validation = train.iloc[fold.validation_rows]
        x, y = model_input(fold_train, columns), fold_train[LABEL].astype(int)
        x_val, y_val = model_input(validation, columns), validation[LABEL].astype(int)
        for family in params.candidates:
            model = candidates.fit(family, x, y, numeric, categorical, params.hyperparameters)
            scores = model.predict_proba(x_val)[:, 1]
            rows.append(
                {
                    "family": family,
                    "fold": fold.index,
                    "train_end": fold.train_end.date().isoformat(),
                    "validation": f"{fold.validation_start.date()}..{fold.validation_end.date()}",
                    "train_rows": len(fold_train),
                    "validation_rows": len(validation),
                    "roc_auc": round(float(roc_auc_score(y_val, scores)), 6),
                    "pr_auc": round(float(average_precision_score(y_val, scores)), 6),
                }
            )
    table = pd.DataFrame(rows)
    means = table.groupby("family", sort=False)[SELECTION_METRIC].mean()
    scores = {family: round(float(means[family]), 6) for family in params.candidates}
    best = max(params.candidates, key=lambda f: (scores[f], -params.candidates.index(f)))
    reason = (
        f"best mean validation {SELECTION_METRIC} over {len(folds)} rolling-origin fold(s): "
        + ", ".join(f"{f} {scores[f]:.4f}" for f in params.candidates)
    )
    return Selection(best, reason, scores, table)
