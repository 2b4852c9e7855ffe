"""Benchmark: what MLflow tracking and registration cost the training asset.

Fits the default gradient-boosting pipeline on a training-set-shaped frame (default 200K
rows, the size of the demo's), writes the evaluation artifacts, then times
``model_registry.log_and_register`` (run, params, metrics, artifacts, skops model, registered
version with every tag, alias) several times in a fresh MLflow store. The reference in the
same run is the fit itself: tracking should be a small fraction of it.

    python bench/tracking.py [--rows N] [--repeats N]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.common.model_input import input_columns, model_input  # noqa: E402
from ml.common.settings import Paths  # noqa: E402
from ml.registry import model_registry  # noqa: E402
from ml.training import evaluation, model_gate, trainer  # noqa: E402


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    recency = rng.integers(0, 365, size=rows).astype(float)
    out = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(rows)],
            "event_timestamp": pd.Timestamp("2025-01-06"),
            "customer_features__recency_days": recency,
            **{f"customer_features__f{i}": rng.gamma(2.0, 10.0, size=rows) for i in range(14)},
            "customer_attributes__country": rng.choice(["DE", "FR", "GB", "NL"], size=rows),
        }
    )
    out["churned"] = (rng.uniform(size=rows) < recency / 365).astype(int)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    data = frame(args.rows)
    params = trainer.TrainingParams()
    started = time.perf_counter()
    model = trainer.fit(data, params)
    fit_seconds = time.perf_counter() - started
    holdout = data.sample(10_000, random_state=1)
    scored = trainer.evaluate(model, holdout, params.threshold)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "evaluation"
        evaluation.write_artifacts(model, holdout, params.threshold, folder)
        client = model_registry.configure(Paths(Path(tmp) / "home"))
        decision = model_gate.decide(scored.metrics["pr_auc"], 0.0, None)
        sample = model_input(holdout.head(200), input_columns(model))
        timings = []
        for _ in range(args.repeats + 1):  # the first creates the store's tables: warm-up
            started = time.perf_counter()
            model_registry.log_and_register(
                client,
                model,
                sample=sample,
                params={"rows": args.rows},
                metrics=scored.metrics,
                tags={f"tag.{i}": "x" * 20 for i in range(25)},
                decision=decision,
                artifacts=folder,
            )
            timings.append(time.perf_counter() - started)
    median = statistics.median(timings[1:])
    result = {
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "rows": args.rows,
        "fit_seconds": round(fit_seconds, 3),
        "log_and_register_seconds": {
            "median": round(median, 3),
            "runs": [round(t, 3) for t in timings[1:]],
        },
        "ratio_vs_fit": round(median / fit_seconds, 4),
        "target_seconds": 0.5,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
