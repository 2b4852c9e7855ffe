"""Train and evaluate the churn model from the point-in-time training set.

Feature columns are not declared here: they are whatever the dbt training set carries besides
its keys and label, so dbt stays the one place where features are defined. All preprocessing
lives inside the scikit-learn ``Pipeline``, so the object that is registered is the object
that scores, and training and inference cannot drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    classification_report,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from ml.common.model_input import KEY_COLUMNS, LABEL, TIME, model_input, predict_proba
from ml.features import on_demand
from ml.training import candidates as families
from ml.training.candidates import described


@dataclass(frozen=True)
class TrainingParams:
    """Split, selection, gate and hyperparameters; Dagster config of the training asset."""

    holdout_snapshots: int = described(
        4, "Latest labeled snapshot dates held out for evaluation and the gate."
    )
    horizon_days: int = described(
        90, "Churn horizon; training rows this close to a validation block are purged."
    )
    threshold: float = described(0.5, "Probability at which a customer counts as churning.")
    candidates: tuple[str, ...] = described(
        families.FAMILIES, f"Model families compared: any of {', '.join(families.FAMILIES)}."
    )
    cv_folds: int = described(3, "Rolling-origin folds.")
    cv_fold_snapshots: int = described(4, "Snapshot dates per validation fold.")
    cv_max_rows: int = described(60_000, "Training rows per fold (sampled above).")
    fit_max_rows: int = described(
        1_000_000,
        "Training-period rows read and fitted on (a date-stratified sample above, drawn in "
        "DuckDB).",
    )
    holdout_max_rows: int = described(
        1_000_000, "Holdout rows judged (a date-stratified sample above, drawn in DuckDB)."
    )
    gate_tolerance: float = described(
        0.005, "PR AUC a new version may lose to the champion and still be promoted."
    )
    slice_floor: float = described(0.6, "ROC AUC every judged customer group needs.")
    slice_min_rows: int = described(200, "Groups smaller than this are not judged.")
    hyperparameters: families.Hyperparameters = families.Hyperparameters()

    def flat(self) -> dict[str, object]:
        """Every setting at one level (hyperparameters included), as config and run params."""
        values = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "hyperparameters"
        }
        return {**values, **asdict(self.hyperparameters)}

    @classmethod
    def from_flat(cls, values: dict[str, object]) -> TrainingParams:
        hyper = {f.name for f in fields(families.Hyperparameters)}
        top = {f.name for f in fields(cls)} - {"hyperparameters"}
        return cls(
            **{k: v for k, v in values.items() if k in top and k != "candidates"},
            candidates=tuple(values.get("candidates", families.FAMILIES)),
            hyperparameters=families.Hyperparameters(
                **{k: v for k, v in values.items() if k in hyper}
            ),
        )


@dataclass(frozen=True)
class TimeSplit:
    train: pd.DataFrame
    holdout: pd.DataFrame
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    holdout_start: pd.Timestamp
    holdout_end: pd.Timestamp


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    report: str
    rows: int
    positives: int


def feature_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns: everything but keys and label, split by dtype."""
    features = [
        c
        for c in frame.columns
        if c not in KEY_COLUMNS and c != LABEL and c not in on_demand.NOT_MODEL_INPUTS
    ]
    categorical = [
        c
        for c in features
        if pd.api.types.is_string_dtype(frame[c]) or pd.api.types.is_object_dtype(frame[c])
    ]
    numeric = [c for c in features if c not in categorical]
    return numeric, categorical


def time_split(frame: pd.DataFrame, holdout_snapshots: int, horizon_days: int) -> TimeSplit:
    """Hold out the latest ``holdout_snapshots`` labeled as-of dates; train on earlier ones.

    Training rows are purged so that their label window ends before the holdout starts: a
    training label observed during the holdout period would leak the holdout's outcome.
    """
    dates = np.sort(pd.to_datetime(frame[TIME]).unique())
    if len(dates) < holdout_snapshots + 1:
        raise ValueError(
            f"need more than {holdout_snapshots} labeled snapshot dates to hold some out, "
            f"found {len(dates)}; supply a longer transaction history (at least "
            f"{horizon_days} days plus a few weeks)"
        )
    as_of = pd.to_datetime(frame[TIME])
    holdout_start = pd.Timestamp(dates[-holdout_snapshots])
    train_end = holdout_start - pd.Timedelta(days=horizon_days)
    train = frame[as_of <= train_end]
    holdout = frame[as_of >= holdout_start]
    if train.empty or train[LABEL].nunique() < 2:
        raise ValueError(
            f"no usable training rows before {train_end.date()} (holdout starts "
            f"{holdout_start.date()}, minus a {horizon_days}-day purge); supply a longer history"
        )
    return TimeSplit(
        train=train.reset_index(drop=True),
        holdout=holdout.reset_index(drop=True),
        train_start=pd.Timestamp(dates[0]),
        train_end=train_end,
        holdout_start=holdout_start,
        holdout_end=pd.Timestamp(dates[-1]),
    )


def fit(
    train: pd.DataFrame,
    params: TrainingParams,
    family: str = families.HIST_GRADIENT_BOOSTING,
) -> Pipeline:
    # A large log's training period holds tens of millions of rows; fitting a sample costs
    # a fraction of the time and memory for the same holdout quality (bench/RESULTS.md).
    # The holdout is never sampled.
    if len(train) > params.fit_max_rows:
        train = train.sample(params.fit_max_rows, random_state=params.hyperparameters.random_state)
    numeric, categorical = feature_columns(train)
    x, y = model_input(train, numeric + categorical), train[LABEL].astype(int)
    return families.fit(family, x, y, numeric, categorical, params.hyperparameters)


def evaluate(model: Pipeline, frame: pd.DataFrame, threshold: float) -> Evaluation:
    """Holdout metrics; threshold-free ones (ROC/PR AUC, Brier) and those at ``threshold``."""
    y = frame[LABEL].astype(int).to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError("the holdout holds a single class; metrics would be meaningless")
    scores = predict_proba(model, frame)
    predicted = (scores >= threshold).astype(int)
    metrics = {
        "roc_auc": roc_auc_score(y, scores),
        "pr_auc": average_precision_score(y, scores),
        "precision": precision_score(y, predicted, zero_division=0),
        "recall": recall_score(y, predicted, zero_division=0),
        "f1": f1_score(y, predicted, zero_division=0),
        "accuracy": accuracy_score(y, predicted),
        "brier": brier_score_loss(y, scores),
        "base_rate": float(y.mean()),
    }
    report = classification_report(
        y, predicted, target_names=["retained", "churned"], digits=4, zero_division=0
    )
    return Evaluation(
        metrics={k: round(float(v), 6) for k, v in metrics.items()},
        report=report,
        rows=int(len(y)),
        positives=int(y.sum()),
    )
