"""The labeled rows training reads: every row while they fit the budget, a sample drawn inside
DuckDB beyond it.

A 50M-transaction log's training set holds over a hundred million labeled rows; reading them
into pandas to sample there would take tens of GB before the first fit. Here DuckDB keeps each
row of the training period with one probability and each row of the holdout with another, so
every snapshot date keeps its share (a date-stratified Bernoulli sample). A hash of the customer
and the date decides, not a random draw, so the same training set always gives the same sample.
Rows in the purge gap between the two periods are never read: the split drops them anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from ml.common.model_input import ENTITY, TIME

_HASH_RANGE = 2**64  # DuckDB's hash() is a UBIGINT


@dataclass(frozen=True)
class Sampling:
    """What was read of the training set; logged with the run, so a version says whether it
    saw every row."""

    train_rows_available: int
    holdout_rows_available: int
    train_rate: float
    holdout_rate: float

    def params(self) -> dict[str, object]:
        return {
            "training_rows_available": self.train_rows_available,
            "training_sample_rate": round(self.train_rate, 6),
            "holdout_rows_available": self.holdout_rows_available,
            "holdout_sample_rate": round(self.holdout_rate, 6),
        }


def read(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    holdout_snapshots: int,
    horizon_days: int,
    train_max_rows: int,
    holdout_max_rows: int,
) -> tuple[pd.DataFrame, Sampling]:
    """The rows of ``relation`` training uses, ordered by date and customer, and how they were
    sampled. The split's rules (the latest ``holdout_snapshots`` dates held out, a
    ``horizon_days`` purge before them) are those of ``trainer.time_split``, which then splits
    the frame and says what is wrong when there are too few dates."""
    counts = con.execute(
        f"select {TIME}, count(*) from {relation} group by 1 order by 1"
    ).fetchall()
    if len(counts) <= holdout_snapshots:
        frame = con.execute(f"select * from {relation} order by {TIME}, {ENTITY}").df()
        return frame, Sampling(len(frame), 0, 1.0, 1.0)
    holdout_start = counts[-holdout_snapshots][0]
    train_end = _as_timestamp(holdout_start) - dt.timedelta(days=horizon_days)
    train_rows = sum(n for day, n in counts if _as_timestamp(day) <= train_end)
    holdout_rows = sum(n for day, n in counts if day >= holdout_start)
    sampling = Sampling(
        train_rows,
        holdout_rows,
        _rate(train_max_rows, train_rows),
        _rate(holdout_max_rows, holdout_rows),
    )
    frame = con.execute(
        f"""
        select * from {relation}
        where ({TIME} <= $train_end and {_kept(sampling.train_rate)})
           or ({TIME} >= $holdout_start and {_kept(sampling.holdout_rate)})
        order by {TIME}, {ENTITY}
        """,
        {"train_end": train_end, "holdout_start": holdout_start},
    ).df()
    return frame, sampling


def _as_timestamp(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time())


def _rate(budget: int, available: int) -> float:
    return 1.0 if available <= budget else budget / available


def _kept(rate: float) -> str:
    if rate >= 1.0:
        return "true"
    return f"hash({ENTITY}, {TIME}) < {int(rate * _HASH_RANGE)}::ubigint"
