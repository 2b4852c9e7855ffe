"""The engine's Python work on Spark, each job in its own process: ``python -m
ml.engines.spark_jobs training-set``.

A process of its own keeps the JVM (and its heap) out of the orchestrator, and gives each job
the metastore of the FTI_HOME it was started for: a JVM's Derby home is fixed when it starts,
and two processes cannot share one Derby store. It is also how the job would be handed to a
cluster (``spark-submit`` runs the same module).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from ml.common.settings import REPO_ROOT, Paths, paths
from ml.engines import spark_session
from ml.features.dbt_manifest import load_manifest
from ml.features.spark_retrieval import write_training_set


def _training_set(_args) -> dict[str, object]:
    spark = spark_session.session(paths())
    return {"rows": write_training_set(spark, load_manifest())}


JOBS = {"training-set": _training_set}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ml.engines.spark_jobs")
    parser.add_argument("job", choices=sorted(JOBS))
    args = parser.parse_args(argv)
    print(json.dumps(JOBS[args.job](args)))


def run(job: str, home: Paths, *args: str) -> dict[str, object]:
    """Run a job in its own process for ``home``; its result (the last line it prints)."""
    env = {**os.environ, "FTI_HOME": str(home.home), **spark_session.environment(home)}
    done = subprocess.run(
        [sys.executable, "-m", "ml.engines.spark_jobs", job, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"Spark job {job} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
