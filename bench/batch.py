"""Benchmark: batch scoring of every customer vs its floor, on a built FTI_HOME.

Ours is what the `predictions/churn_predictions` asset does after loading the champion:
point-in-time retrieval of every customer's latest features from the warehouse, on-demand
features, `predict_proba`, and the predictions table written in one transaction. The floor is
the least any scorer must do: read the model's input matrix (prepared beforehand as Parquet)
and call `predict_proba` once. Both alternate in one process after a warm-up pair (so the
ratio is pair by pair); loading the model is outside both timers. Both must give the same
probabilities (their mean, to ours' 6 decimals).

    python bench/batch.py --home DIR [--rounds 3]      (DIR holds a `fti demo` run)
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from common import median, python

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _model():
    from ml.common.settings import export_environment
    from ml.registry import model_registry

    paths = export_environment()
    client = model_registry.configure(paths)
    version = model_registry.champion_version(client)
    tags = client.get_model_version("churn", version).tags
    return paths, version, model_registry.load_version(client, version), tags


def _selection(tags):
    from ml.features.dbt_manifest import load_manifest
    from ml.features.views import feature_views, required_views, serving_selection
    from orchestration.lib.dbt_project import dbt_project

    return serving_selection(
        required_views(tags), feature_views(load_manifest(dbt_project().manifest_path))
    )


def measure(rounds: int) -> dict:
    """In the child process (FTI_HOME set): prepare the floor's matrix, then alternate."""
    import pandas as pd
    import pyarrow.parquet  # noqa: F401  (imported before the floor's timer)

    from ml.common.model_input import categorical_columns, input_columns, model_input
    from ml.common.warehouse import connect
    from ml.features import on_demand
    from ml.features.retrieval import SPINE_TIME
    from ml.inference import batch_scoring

    paths, version, model, tags = _model()
    selection = _selection(tags)
    matrix = paths.home / "bench_floor_matrix.parquet"
    with connect(paths.warehouse, read_only=True) as con:
        features = batch_scoring.latest_features(con, selection)
    features = on_demand.add(features, on_demand.end_of_day(features[SPINE_TIME]))
    model_input(features, input_columns(model), categorical_columns(model)).to_parquet(matrix)

    def ours() -> tuple[float, int, float]:
        started = time.perf_counter()
        with connect(paths.warehouse) as con:
            features = batch_scoring.latest_features(con, selection)
            scored = batch_scoring.score(model, features, "churn", version)
            rows = batch_scoring.write_predictions(con, scored)
        seconds = time.perf_counter() - started
        return seconds, rows, float(scored.predictions["churn_probability"].mean())

    def floor() -> tuple[float, int, float]:
        started = time.perf_counter()
        probability = model.predict_proba(pd.read_parquet(matrix))[:, 1]
        seconds = time.perf_counter() - started
        return seconds, len(probability), float(probability.mean())

    runs = [(ours(), floor()) for _ in range(rounds + 1)][1:]  # the first pair warms up
    matrix.unlink()
    return {
        "customers": runs[0][0][1],
        "rounds": rounds,
        "ours_s": round(median(o[0] for o, _ in runs), 3),
        "floor_s": round(median(f[0] for _, f in runs), 3),
        "ratio_vs_floor": round(median(o[0] / f[0] for o, f in runs), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        # ours rounds each probability to 6 decimals
        "same_values": all(o[1] == f[1] and abs(o[2] - f[2]) < 1e-6 for o, f in runs),
    }


def bench(home: Path, rounds: int) -> dict:
    child = python("batch.py", "--measure", str(rounds), env={"FTI_HOME": str(home)})
    return json.loads(child.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
    else:
        home = (args.home or Path(os.environ.get("FTI_HOME", "data"))).resolve()
        print(json.dumps(bench(home, args.rounds), indent=2))


if __name__ == "__main__":
    main()
