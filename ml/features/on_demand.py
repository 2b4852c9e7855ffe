"""On-demand features: computed from the time a prediction is asked for, not stored.

``days_since_last_purchase`` is the one here. The feature store holds each customer's last
purchase date as of the latest snapshot; the days since then depend on *when* the question
is asked: at a training row's time, at the batch's as-of time, or now, for an online
request. The same function computes it in all three places, so they cannot drift apart.
It supersedes the snapshot's ``recency_days`` as a model input (which froze the count at the
snapshot day); that column stays in the tables for analysts and for the baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LAST_PURCHASE = "customer_features__last_purchase_date"
DAYS_SINCE_LAST_PURCHASE = "on_demand__days_since_last_purchase"
SUPERSEDED = "customer_features__recency_days"
# Inputs of on-demand features and the stored features they supersede: never model inputs.
NOT_MODEL_INPUTS = frozenset({LAST_PURCHASE, SUPERSEDED})
SECONDS_PER_DAY = 86_400


def _as_seconds(values: pd.Series | list) -> np.ndarray:
    """datetime64[s] of a datetime Series, or of a list of dates, datetimes or ISO strings
    (None is NaT); sub-second parts are dropped."""
    if isinstance(values, pd.Series):
        if not pd.api.types.is_datetime64_any_dtype(values):
            values = pd.to_datetime(values, errors="coerce")
        return values.to_numpy(dtype="datetime64[s]")
    return np.array(list(values), dtype="datetime64[s]")


def days_since_last_purchase(
    last_purchase: pd.Series | list, as_of: pd.Series | list
) -> np.ndarray:
    """Days (fractional, at one-second resolution) from the start of the last purchase day
    to ``as_of``; NaN without a purchase. Whole seconds as integers, then one division: the
    same float64 for a frame of millions of rows (training, batch) and for a single request
    given as lists (the API, where this costs microseconds)."""
    last, when = _as_seconds(last_purchase), _as_seconds(as_of)
    seconds = (when - last).astype("int64").astype("float64")
    seconds[np.isnat(last) | np.isnat(when)] = np.nan
    return seconds / SECONDS_PER_DAY


def end_of_day(dates: pd.Series) -> pd.Series:
    """A DATE spine means the end of that day (the convention of ``ml.features.retrieval``)."""
    return pd.to_datetime(dates).dt.normalize() + pd.Timedelta(days=1)


def add(frame: pd.DataFrame, as_of: pd.Series) -> pd.DataFrame:
    """``frame`` with the on-demand features as of ``as_of`` (one time per row)."""
    if LAST_PURCHASE not in frame.columns:
        return frame
    out = frame.copy()
    out[DAYS_SINCE_LAST_PURCHASE] = days_since_last_purchase(
        out[LAST_PURCHASE].reset_index(drop=True), pd.Series(as_of).reset_index(drop=True)
    )
    return out
