"""Monitoring statistics in DuckDB SQL against the same statistics in pandas/numpy/scipy and
scikit-learn, at the size of a 10M-transaction log (about 540,000 customers scored per date).

Drift: 18 numeric inputs, 2 categorical and the scores of every customer of one scoring date,
against a 200,000-row reference (what training stores). Realized performance: 8 scoring
dates of the prediction history, every customer, against scikit-learn per date. Values must
agree (the largest differences are reported); times are the median of ``--rounds``, and the
references' include reading the rows into pandas, as a pandas-based monitor must.

    python bench/drift.py [--customers 540000] [--rounds 3]
"""

import argparse
import json
import statistics
import time

import duckdb
import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from ml.monitoring import drift, performance

NUMERIC, CATEGORIES, DATES = 18, 2, 8


def frames(customers: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    def draw(rows: int, shift: float) -> pd.DataFrame:
        data = {
            f"x{i}": np.where(
                rng.uniform(size=rows) < 0.03, np.nan, rng.gamma(2.0 + shift * i / 10, size=rows)
            )
            for i in range(NUMERIC)
        }
        for i in range(CATEGORIES):
            data[f"c{i}"] = rng.choice(["a", "b", "c", "d", "e"], size=rows)
        data[drift.PREDICTION] = rng.beta(2, 5 + shift, size=rows)
        return pd.DataFrame(data)

    return draw(200_000, 0.0), draw(customers, 0.3)


def numpy_drift(reference: dict[str, drift.Profile], current: pd.DataFrame) -> pd.DataFrame:
    """The same statistics computed outside DuckDB, from the stored profile."""
    rows = []
    for name, p in reference.items():
        values = current[name]
        valued = values.dropna()
        if p.kind == drift.NUMERIC:
            bins = np.searchsorted(np.array(p.edges), valued.to_numpy(), side="left")
        else:
            index = {c: i for i, c in enumerate(p.categories)}
            bins = valued.map(index).fillna(len(p.categories)).astype(int).to_numpy()
        q = np.bincount(bins, minlength=p.bins) / max(len(valued), 1)
        ref = np.array(p.shares)
        pe, qe = np.maximum(ref, drift.EPSILON), np.maximum(q, drift.EPSILON)
        rows.append(
            {
                "feature": name,
                "psi": float(np.sum((qe - pe) * np.log(qe / pe))),
                "js": float(jensenshannon(ref, q, base=2)),
                "ks": float(np.max(np.abs(np.cumsum(ref) - np.cumsum(q))))
                if p.kind == drift.NUMERIC
                else np.nan,
                "null_rate_change": float(values.isna().mean() - p.null_rate),
            }
        )
    return pd.DataFrame(rows).sort_values("feature").reset_index(drop=True)


def history(customers: int, rng: np.random.Generator) -> pd.DataFrame:
    parts = []
    for d in range(DATES):
        p = np.round(rng.beta(2, 3, size=customers), 6)
        parts.append(
            pd.DataFrame(
                {
                    "as_of_date": pd.Timestamp("2025-01-06") + pd.Timedelta(days=7 * d),
                    "model_version": "1",
                    "customer_id": [f"C{i:07d}" for i in range(customers)],
                    "p": p,
                    "y": (rng.uniform(size=customers) < p).astype(int),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def sklearn_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, g in frame.groupby(["as_of_date", "model_version"], sort=True):
        y, p = g["y"].to_numpy(), g["p"].to_numpy()
        rows.append(
            {
                "roc_auc": roc_auc_score(y, p),
                "pr_auc": average_precision_score(y, p),
                "brier": brier_score_loss(y, p),
            }
        )
    return pd.DataFrame(rows)


def timed(call, rounds: int):
    seconds, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=540_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    reference_rows, current = frames(args.customers, rng)
    con = duckdb.connect()
    con.execute("create table reference_rows as select * from reference_rows")
    con.execute("create table current as select * from current")
    numeric = [f"x{i}" for i in range(NUMERIC)] + [drift.PREDICTION]
    categorical = [f"c{i}" for i in range(CATEGORIES)]
    reference = drift.profile(con, "reference_rows", numeric, categorical)

    sql_s, ours = timed(lambda: drift.measure(con, "current", reference), args.rounds)
    # The reference reads the rows into pandas first, as a pandas-based monitor must.
    ref_s, theirs = timed(
        lambda: numpy_drift(reference, con.execute("select * from current").df()), args.rounds
    )
    differences = {
        stat: float(np.nanmax(np.abs(ours[stat].to_numpy() - theirs[stat].to_numpy())))
        for stat in ("psi", "js", "ks", "null_rate_change")
    }

    outcomes = history(args.customers, rng)
    con.execute("create table outcomes as select * from outcomes")
    perf_s, realized = timed(
        lambda: con.execute(performance.metrics_sql("outcomes")).df().sort_values("as_of_date"),
        args.rounds,
    )
    sk_s, expected = timed(
        lambda: sklearn_metrics(con.execute("select * from outcomes").df()), args.rounds
    )
    perf_diff = {
        m: float(np.max(np.abs(realized[m].to_numpy() - expected[m].to_numpy())))
        for m in ("roc_auc", "pr_auc", "brier")
    }
    print(
        json.dumps(
            {
                "customers": args.customers,
                "drift": {
                    "inputs": len(reference),
                    "duckdb_s": round(sql_s, 3),
                    "pandas_scipy_s": round(ref_s, 3),
                    "speedup": round(ref_s / sql_s, 2),
                    "max_abs_difference": differences,
                },
                "realized": {
                    "dates": DATES,
                    "rows": len(outcomes),
                    "duckdb_s": round(perf_s, 3),
                    "sklearn_s": round(sk_s, 3),
                    "speedup": round(sk_s / perf_s, 2),
                    "max_abs_difference": perf_diff,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
