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
from pathlib import Path

from ml.common.errors import FtiError
from ml.common.settings import REPO_ROOT, Paths, paths
from ml.engines import spark_session
from ml.features.dbt_manifest import load_manifest
from ml.features.spark_retrieval import write_training_set


def _training_set(_args) -> dict[str, object]:
    spark = spark_session.session(paths())
    return {"rows": write_training_set(spark, load_manifest())}


def scoring_dir(home: Paths):
    return spark_session.spark_home(home) / "scoring"


def _score(args) -> dict[str, object]:
    """Score every customer's latest snapshot with model ``--version`` inside Spark: the
    scoring spine and the point-in-time lookup in Spark SQL, the model applied per partition
    (``mapInPandas``) by ``batch_scoring.score``, the same function the DuckDB engine calls.
    Predictions and scored inputs go to one Parquet folder that ``batch_scoring`` publishes."""
    from datetime import UTC, datetime

    import pandas as pd

    from ml.common.model_input import ENTITY
    from ml.common.settings import MODEL_NAME
    from ml.features.retrieval import SPINE_TIME
    from ml.features.spark_retrieval import historical_features
    from ml.features.views import feature_views, required_views, serving_selection
    from ml.inference import batch_scoring
    from ml.registry import model_registry

    home = paths()
    spark = spark_session.session(home)
    client = model_registry.configure(home)
    version = args.version
    tags = client.get_model_version(MODEL_NAME, version).tags
    selection = serving_selection(required_views(tags), feature_views(load_manifest()))
    model = model_registry.load_version(client, version)
    spine = spark.sql(
        f"""select customer_id as {ENTITY},
                   (select max(as_of_date) from features.feature_snapshot_dates) as {SPINE_TIME}
            from staging.stg_customers"""
    )
    features = historical_features(spark, spine, selection)
    scored_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    def wide(frame: pd.DataFrame) -> pd.DataFrame:
        scored = batch_scoring.score(model, frame, MODEL_NAME, version)
        predictions = scored.predictions.assign(scored_at=scored_at).reset_index(drop=True)
        inputs = scored.inputs.reset_index(drop=True)
        for column in inputs.select_dtypes("category"):
            inputs[column] = inputs[column].astype(object)
        return pd.concat(
            [
                predictions.add_prefix(batch_scoring.PREDICTION_PREFIX),
                inputs.add_prefix(batch_scoring.INPUT_PREFIX),
            ],
            axis=1,
        )

    # The output's schema, from the scoring of a few rows on the driver.
    schema = spark.createDataFrame(wide(features.limit(20).toPandas())).schema

    def score_batches(batches):
        for frame in batches:
            if len(frame):
                yield wide(frame)

    target = scoring_dir(home)
    features.mapInPandas(score_batches, schema).write.mode("overwrite").parquet(str(target))
    return {"rows": spark.read.parquet(str(target)).count(), "folder": str(target)}


def _historical(args) -> dict[str, object]:
    """`fti features historical` on Spark: the spine file read here (CSV or Parquet, typed as
    DuckDB types it), the retrieval in Spark SQL, the result written to ``--out``. The result
    passes through this process, so it suits spines that fit in memory."""
    from ml.common.warehouse import connect
    from ml.features.retrieval import output_format, read_spine
    from ml.features.spark_retrieval import historical_features
    from ml.features.views import feature_views, resolve

    # Arrow, not pandas, both ways: pandas turns a DATE spine (the end of that day) into a
    # midnight timestamp, which would see the day before.
    with connect(":memory:") as con:
        spine = con.sql(f"select * from {read_spine(con, args.spine)}").to_arrow_table()
    spark = spark_session.session(paths())
    references = [r.strip() for r in args.features.split(",")] if args.features else None
    selection = resolve(feature_views(load_manifest()), references)
    found = historical_features(spark, spark.createDataFrame(spine), selection).toArrow()
    out = str(Path(args.out)).replace("'", "''")
    fmt = output_format(args.spine, args.out)
    with connect(":memory:") as con:  # the writer the DuckDB engine uses
        con.register("found", found)
        con.execute(f"copy found to '{out}' (format {fmt})")
    return {"rows": found.num_rows, "features": sum(len(f) for f in selection.values())}


class SparkJobFailed(FtiError, RuntimeError):
    """A Spark job exited with an error; ``log`` holds the end of its output."""

    def __init__(self, message: str, log: str):
        super().__init__(message)
        self.log = log


JOBS = {"training-set": _training_set, "score": _score, "historical": _historical}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ml.engines.spark_jobs")
    parser.add_argument("job", choices=sorted(JOBS))
    parser.add_argument("--version", help="the model version to score with (score)")
    parser.add_argument("--spine", help="spine file (historical)")
    parser.add_argument("--out", help="output file (historical)")
    parser.add_argument("--features", help="view:feature,... (historical)")
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
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        cause = next((line for line in reversed(lines) if "Error" in line), lines[-1:] or [""])
        raise SparkJobFailed(f"the Spark job {job} failed: {cause}", done.stderr[-4000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
