"""Metrics per customer group, the largest gap across groups, and a floor each group must meet.

A model can look good on average while failing a whole country or the newest customers. The
groups are columns of the training set (so their values are as of each row's date, like the
features) plus tenure bands; groups too small or single-class to measure are listed but not
judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, recall_score, roc_auc_score

from ml.common.model_input import LABEL

TENURE_COLUMN = "customer_features__tenure_days"
TENURE_BANDS = ((0, 90, "0-89 days"), (90, 365, "90-364 days"), (365, None, "365+ days"))
SLICES = {
    "country": "customer_attributes__country",
    "acquisition_channel": "customer_features__acquisition_channel",
    "tenure_band": TENURE_COLUMN,
}
SLICE_METRIC = "roc_auc"


@dataclass(frozen=True)
class SliceReport:
    table: pd.DataFrame  # slice, group, rows, positives, base_rate, roc_auc, pr_auc, recall
    gaps: dict[str, float]  # slice -> max - min roc_auc over judged groups
    failures: list[str]  # "slice=group: roc_auc 0.55 < floor 0.60"

    @property
    def largest_gap(self) -> float:
        return max(self.gaps.values(), default=0.0)


def tenure_band(days: pd.Series) -> pd.Series:
    values = pd.to_numeric(days, errors="coerce")
    out = pd.Series("unknown", index=days.index, dtype=object)
    for low, high, name in TENURE_BANDS:
        inside = values >= low if high is None else (values >= low) & (values < high)
        out[inside.fillna(False).to_numpy()] = name
    return out


def groups(frame: pd.DataFrame, slice_name: str) -> pd.Series:
    column = SLICES[slice_name]
    if column not in frame.columns:
        return pd.Series("unknown", index=frame.index, dtype=object)
    if slice_name == "tenure_band":
        return tenure_band(frame[column])
    values = frame[column].astype(object)
    return values.where(values.notna(), "unknown")


def evaluate_slices(
    frame: pd.DataFrame,
    scores: np.ndarray,
    threshold: float,
    floor: float,
    min_rows: int,
) -> SliceReport:
    y = frame[LABEL].astype(int).to_numpy()
    predicted = (scores >= threshold).astype(int)
    rows, gaps, failures = [], {}, []
    for slice_name in SLICES:
        labels = groups(frame, slice_name).to_numpy()
        judged = []
        for group in sorted(set(labels), key=str):
            mask = labels == group
            group_y = y[mask]
            measurable = mask.sum() >= min_rows and 0 < group_y.sum() < mask.sum()
            row = {
                "slice": slice_name,
                "group": str(group),
                "rows": int(mask.sum()),
                "positives": int(group_y.sum()),
                "base_rate": round(float(group_y.mean()), 4),
                "roc_auc": None,
                "pr_auc": None,
                "recall": None,
                "judged": bool(measurable),
            }
            if measurable:
                row["roc_auc"] = round(float(roc_auc_score(group_y, scores[mask])), 4)
                row["pr_auc"] = round(float(average_precision_score(group_y, scores[mask])), 4)
                row["recall"] = round(
                    float(recall_score(group_y, predicted[mask], zero_division=0)), 4
                )
                judged.append(row[SLICE_METRIC])
                if row[SLICE_METRIC] < floor:
                    failures.append(
                        f"{slice_name}={group}: {SLICE_METRIC} {row[SLICE_METRIC]:.4f} "
                        f"< floor {floor:.2f}"
                    )
            rows.append(row)
        if judged:
            gaps[slice_name] = round(max(judged) - min(judged), 4)
    return SliceReport(pd.DataFrame(rows), gaps, failures)
