"""Benchmark: the feature pipeline on DuckDB vs on Spark (`local[2]`), same data, same dbt
models, and the proof that both built the same thing.

One generated warehouse is copied into two homes. DuckDB: `dbt build --full-refresh` (models
and their tests, the training set included), as the dbt_models asset runs it. Spark, step by
step as the asset runs it: `dbt snapshot` in DuckDB, the sources exported to Parquet, `dbt
build` on Spark, the training set as a Spark job, Spark's tables mirrored into the warehouse
and the training set's tests. Every built table is then compared by content hash. One round
each (a Spark build at 10M transactions takes minutes); wall times and peak memory of each
process tree.

    python bench/engines.py --transactions 1000000 [--out file.json]
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from common import BIN, ROOT, label, load_warehouse, machine, run_measured, write_json

sys.path.insert(0, str(ROOT))

from ml.common.settings import Paths  # noqa: E402
from ml.engines import spark_exchange, spark_jobs, spark_session  # noqa: E402
from ml.features.dbt_manifest import load_manifest  # noqa: E402
from orchestration.lib.dbt_project import build_args, spark_build_args  # noqa: E402

DBT_PROJECT = ROOT / "dbt_project"


def dbt(home: Paths, args: list[str], env: dict[str, str]) -> dict[str, float]:
    target = home.home / "dbt-target"
    measured = run_measured(
        [str(BIN / "dbt"), *args, "--target-path", str(target), "--no-use-colors"],
        env={
            "FTI_WAREHOUSE": str(home.warehouse),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **env,
        },
        cwd=DBT_PROJECT,
    )
    return {"seconds": round(measured.seconds, 2), "peak_rss_mb": round(measured.peak_rss_mb)}


def fingerprints(home: Paths, relations: list[str]) -> dict[str, list[int]]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return {
            r: list(con.execute(f"select count(*), bit_xor(hash(t)) from {r} t").fetchone())
            for r in relations
        }


def bench(transactions: int, scratch: Path) -> dict[str, object]:
    source = scratch / "loaded"
    loaded = load_warehouse(source, transactions)
    manifest = load_manifest()
    duck, spark = Paths(scratch / "duckdb"), Paths(scratch / "spark")
    for home in (duck, spark):
        shutil.copytree(source, home.home)

    figures: dict[str, object] = {"transactions": loaded["transactions"]}
    figures["duckdb"] = dbt(duck, build_args(None), {"FTI_ENGINE": "duckdb"})

    steps: dict[str, object] = {}
    steps["snapshot"] = dbt(spark, ["build", "--selector", "snapshots"], {"FTI_ENGINE": "duckdb"})
    started = time.perf_counter()
    with duckdb.connect(str(spark.warehouse)) as con:
        spark_exchange.export_sources(con, manifest, spark_session.sources_dir(spark))
    steps["export"] = {"seconds": round(time.perf_counter() - started, 2)}
    steps["dbt_build"] = dbt(spark, spark_build_args(), spark_session.environment(spark))
    started = time.perf_counter()
    spark_jobs.run("training-set", spark)
    steps["training_set"] = {"seconds": round(time.perf_counter() - started, 2)}
    started = time.perf_counter()
    with duckdb.connect(str(spark.warehouse)) as con:
        relations = spark_exchange.built_relations(manifest)
        spark_exchange.mirror(con, relations, spark_session.warehouse_dir(spark))
    steps["mirror"] = {"seconds": round(time.perf_counter() - started, 3)}
    steps["training_set_tests"] = dbt(
        spark, ["test", "--selector", "training_set_tests"], {"FTI_ENGINE": "duckdb"}
    )
    total = sum(s["seconds"] for s in steps.values())
    figures["spark"] = {"seconds": round(total, 2), "steps": steps}
    figures["spark_vs_duckdb"] = round(total / figures["duckdb"]["seconds"], 2)
    a, b = fingerprints(duck, relations), fingerprints(spark, relations)
    figures["identical_tables"] = sorted(r for r in relations if a[r] == b[r])
    figures["different_tables"] = sorted(r for r in relations if a[r] != b[r])
    figures["rows"] = {r: a[r][0] for r in relations}
    return figures


def parse_size(text: str) -> int:
    text = text.upper()
    return int(float(text[:-1]) * 1_000_000) if text.endswith("M") else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", default="1M")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    size = parse_size(args.transactions)
    with tempfile.TemporaryDirectory(prefix="fti-engines-") as scratch:
        figures = {"machine": machine(), label(size): bench(size, Path(scratch))}
    print(json.dumps(figures, indent=2))
    if args.out:
        write_json(args.out, figures)


if __name__ == "__main__":
    main()
