"""What a trained model is judged on, beyond its headline metrics, written as MLflow artifacts.

Everything here is computed on the time holdout: the ROC, PR and calibration curves, the
confusion matrix at the operating threshold, permutation importance, the lift/gains table,
and a baseline that needs no model (rank customers by days since their last purchase). A model
that cannot beat the baseline has learned nothing worth deploying.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.inspection import permutation_importance  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import Pipeline  # noqa: E402

from ml.common.model_input import LABEL, input_columns, model_input  # noqa: E402

BASELINE_FEATURE = "customer_features__recency_days"
IMPORTANCE_ROWS = 5000
IMPORTANCE_REPEATS = 3


@dataclass(frozen=True)
class Baseline:
    name: str
    metrics: dict[str, float]


def baseline(frame: pd.DataFrame) -> Baseline:
    """Recency as the churn score: the rule a business would use without any model."""
    y = frame[LABEL].astype(int).to_numpy()
    if BASELINE_FEATURE not in frame.columns:
        raise KeyError(f"the baseline needs {BASELINE_FEATURE}, absent from the training set")
    recency = pd.to_numeric(frame[BASELINE_FEATURE], errors="coerce").astype(float)
    scores = recency.fillna(recency.max()).to_numpy()
    top = top_decile_capture(y, scores)
    return Baseline(
        name=f"rank by {BASELINE_FEATURE}",
        metrics={
            "roc_auc": round(float(roc_auc_score(y, scores)), 6),
            "pr_auc": round(float(average_precision_score(y, scores)), 6),
            "top_decile_capture": top,
        },
    )


def lift_table(y: np.ndarray, scores: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Customers ranked by score, cut into ``bins`` equal groups (ties broken by position):
    churners caught per group, cumulatively (gains) and against random (lift)."""
    order = np.argsort(-scores, kind="stable")
    ranked = y[order]
    groups = np.array_split(np.arange(len(ranked)), bins)
    total = max(int(ranked.sum()), 1)
    base_rate = ranked.mean() if len(ranked) else 0.0
    rows, caught, seen = [], 0, 0
    for i, members in enumerate(groups, start=1):
        positives = int(ranked[members].sum())
        caught += positives
        seen += len(members)
        rate = positives / len(members) if len(members) else 0.0
        rows.append(
            {
                "group": i,
                "top_share": round(seen / len(ranked), 4),
                "customers": len(members),
                "churners": positives,
                "churn_rate": round(rate, 4),
                "cumulative_capture": round(caught / total, 4),
                "lift": round(rate / base_rate, 4) if base_rate else 0.0,
            }
        )
    return pd.DataFrame(rows)


def top_decile_capture(y: np.ndarray, scores: np.ndarray) -> float:
    """Share of all churners among the 10% highest scores."""
    return float(lift_table(y, scores)["cumulative_capture"].iloc[0])


def write_artifacts(
    model: Pipeline,
    holdout: pd.DataFrame,
    threshold: float,
    folder: Path,
    random_state: int = 0,
) -> dict[str, object]:
    """Write every evaluation artifact into ``folder``; returns the small figures among them."""
    folder.mkdir(parents=True, exist_ok=True)
    y = holdout[LABEL].astype(int).to_numpy()
    columns = input_columns(model)
    x = model_input(holdout, columns)
    scores = model.predict_proba(x)[:, 1]
    reference = baseline(holdout)
    reference_scores = (
        pd.to_numeric(holdout[BASELINE_FEATURE], errors="coerce").astype(float).to_numpy()
    )
    reference_scores = np.where(
        np.isnan(reference_scores), np.nanmax(reference_scores), reference_scores
    )

    lift = lift_table(y, scores)
    lift.to_csv(folder / "lift_gains.csv", index=False)
    (folder / "lift_gains.md").write_text(lift.to_markdown(index=False) + "\n")

    matrix = confusion_matrix(y, (scores >= threshold).astype(int), labels=[0, 1])
    confusion = {
        "threshold": threshold,
        "labels": ["retained", "churned"],
        "matrix": matrix.tolist(),  # rows: actual, columns: predicted
        "true_negative": int(matrix[0, 0]),
        "false_positive": int(matrix[0, 1]),
        "false_negative": int(matrix[1, 0]),
        "true_positive": int(matrix[1, 1]),
    }
    (folder / "confusion_matrix.json").write_text(json.dumps(confusion, indent=2))

    sample = holdout.sample(min(IMPORTANCE_ROWS, len(holdout)), random_state=random_state)
    importance = permutation_importance(
        model,
        model_input(sample, columns),
        sample[LABEL].astype(int),
        scoring="average_precision",
        n_repeats=IMPORTANCE_REPEATS,
        random_state=random_state,
    )
    importances = (
        pd.DataFrame(
            {
                "feature": columns,
                "importance_mean": np.round(importance.importances_mean, 6),
                "importance_std": np.round(importance.importances_std, 6),
            }
        )
        .sort_values("importance_mean", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    importances.to_csv(folder / "permutation_importance.csv", index=False)

    _plot_curves(y, scores, reference_scores, folder / "roc_pr_curves.png")
    prob_true, prob_pred = calibration_curve(y, scores, n_bins=10, strategy="quantile")
    _plot_calibration(prob_true, prob_pred, folder / "calibration_curve.png")
    pd.DataFrame({"mean_predicted": prob_pred, "observed_rate": prob_true}).round(6).to_csv(
        folder / "calibration_curve.csv", index=False
    )
    _plot_confusion(matrix, threshold, folder / "confusion_matrix.png")
    _plot_importance(importances, folder / "permutation_importance.png")
    (folder / "baseline.json").write_text(
        json.dumps({"name": reference.name, **reference.metrics}, indent=2)
    )
    return {
        "top_decile_capture": float(lift["cumulative_capture"].iloc[0]),
        "top_decile_lift": float(lift["lift"].iloc[0]),
        "baseline": reference,
        "confusion": confusion,
        "top_features": importances["feature"].head(5).tolist(),
    }


def _plot_curves(y, scores, reference, path: Path) -> None:
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    for name, s in (("model", scores), ("baseline (recency)", reference)):
        fpr, tpr, _ = roc_curve(y, s)
        roc_ax.plot(fpr, tpr, label=f"{name}  AUC {roc_auc_score(y, s):.3f}")
        precision, recall, _ = precision_recall_curve(y, s)
        pr_ax.plot(recall, precision, label=f"{name}  AP {average_precision_score(y, s):.3f}")
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    roc_ax.set(title="ROC (holdout)", xlabel="false positive rate", ylabel="true positive rate")
    pr_ax.axhline(y.mean(), color="grey", linestyle=":")
    pr_ax.set(title="Precision-recall (holdout)", xlabel="recall", ylabel="precision")
    for ax in (roc_ax, pr_ax):
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_calibration(prob_true, prob_pred, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.plot(prob_pred, prob_true, marker="o")
    ax.set(title="Calibration (holdout)", xlabel="mean predicted", ylabel="observed churn rate")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_confusion(matrix, threshold: float, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center")
    ax.set_xticks([0, 1], ["retained", "churned"])
    ax.set_yticks([0, 1], ["retained", "churned"])
    ax.set(title=f"Confusion at {threshold:.2f}", xlabel="predicted", ylabel="actual")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_importance(importances: pd.DataFrame, path: Path) -> None:
    top = importances.head(15).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(top) + 1.2))
    ax.barh(top["feature"], top["importance_mean"], xerr=top["importance_std"])
    ax.set(title="Permutation importance (drop in PR AUC)", xlabel="importance")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
