"""A model fit beside a busy neighbour: how much slower it gets, by thread setting.

On a 2-core machine, one other busy process leaves one core free. A fit whose OpenMP threads
spin at every barrier waiting for the thread that shares a core with the neighbour slows far
more than the lost core explains. Each setting fits the same gradient-boosting model on the
same data in a fresh process, alone and with one busy process beside it.

    python bench/threads.py [--rows 200000] [--rounds 3]
"""

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time

CHILD = """
import sys, time
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from ml.common import threads
rows = int(sys.argv[1])
rng = np.random.default_rng(0)
x = rng.normal(size=(rows, 15))
y = (x[:, 0] + rng.normal(size=rows) > 0).astype(int)
threads.limit_for_fitting()
started = time.perf_counter()
HistGradientBoostingClassifier(max_iter=200, early_stopping=False, random_state=0).fit(x, y)
print(time.perf_counter() - started)
"""

SETTINGS = {
    "every core (the libraries' default)": {"FTI_THREADS": str(os.cpu_count())},
    "every core, passive OpenMP waits": {
        "FTI_THREADS": str(os.cpu_count()),
        "OMP_WAIT_POLICY": "PASSIVE",
    },
    "one thread": {"FTI_THREADS": "1"},
    "fti: the cores no other process is running on": {"FTI_THREADS": ""},
}


def _busy() -> None:
    while True:
        pass


def fit_seconds(rows: int, env: dict[str, str]) -> float:
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    environment.update(env)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(rows)], env=environment, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for name, env in SETTINGS.items():
        alone, beside = [], []
        for _ in range(args.rounds):
            alone.append(fit_seconds(args.rows, env))
            neighbour = multiprocessing.Process(target=_busy, daemon=True)
            neighbour.start()
            time.sleep(0.5)
            try:
                beside.append(fit_seconds(args.rows, env))
            finally:
                neighbour.kill()
                neighbour.join()
        alone_s, beside_s = sorted(alone)[len(alone) // 2], sorted(beside)[len(beside) // 2]
        results[name] = {
            "alone_seconds": round(alone_s, 2),
            "beside_busy_seconds": round(beside_s, 2),
            "slowdown": round(beside_s / alone_s, 2),
        }
    print(json.dumps({"cpus": os.cpu_count(), "rows": args.rows, "threads": results}, indent=2))


if __name__ == "__main__":
    main()
