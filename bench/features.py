"""Benchmark: the dbt feature pipeline vs one hand-written DuckDB statement, and one new day
processed incrementally vs a full rebuild, on the generated log at a given size.

Each round runs, in fresh processes on the same warehouse: a full rebuild of the feature
models (`dbt run --full-refresh`, as `fti demo` rebuilds them), the hand-written SQL (bench/sql/
hand_features.sql) computing the same features from the raw tables, and an incremental run
of the last day (`FTI_INCREMENTAL_FROM=<last day>`, exactly the work a new day's
data causes). Ratios are per round; the figures are medians over rounds after a warm-up
`dbt build` of the whole project (whose wall time, dbt's start-up and tests included, is
reported too). Both the hand-written result and the incremental result are checked to
equal the full rebuild, row for row.

    python bench/features.py --transactions 1000000 [--rounds 3] [--out file.json]
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import yaml
from common import BIN, ROOT, load_warehouse, median, python, run_measured, write_json

DBT_PROJECT = ROOT / "dbt_project"
FEATURE_MODELS = ["int_customer_daily", "feature_snapshot_dates", "customer_features"]
COMPARED = "features.customer_features_v2"  # v2 holds every v1 column plus the trends


def dbt(command: list[str], warehouse: Path, target: Path, incremental_from: str = ""):
    """One dbt invocation: its wall time, peak memory, and each node's execution time."""
    measured = run_measured(
        [str(BIN / "dbt"), *command, "--target-path", str(target), "--no-use-colors"],
        env={
            "FTI_WAREHOUSE": str(warehouse),
            "FTI_INCREMENTAL_FROM": incremental_from,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
        cwd=DBT_PROJECT,
    )
    results = json.loads((target / "run_results.json").read_text())["results"]
    nodes = {r["unique_id"].split(".", 2)[2]: r["execution_time"] for r in results}
    return measured, nodes


def fingerprint(warehouse: Path, relation: str) -> tuple[int, int]:
    """Row count and an order-independent hash of every row."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return tuple(con.execute(f"select count(*), bit_xor(hash(t)) from {relation} t").fetchone())
    finally:
        con.close()


def last_day(warehouse: Path) -> str:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        day = con.execute("select max(transaction_ts)::date from raw.transactions").fetchone()
        return str(day[0])
    finally:
        con.close()


def hand_sql() -> str:
    project_vars = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text())["vars"]
    return (ROOT / "bench" / "sql" / "hand_features.sql").read_text().format(**project_vars)


def run_hand(warehouse: Path) -> dict:
    """In the child process: the hand-written statement alone (no Python start-up)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set enable_progress_bar = false")
        con.execute("create schema if not exists bench")
        started = time.perf_counter()
        con.execute(f"create or replace table bench.hand_features as {hand_sql()}")
        return {"seconds": time.perf_counter() - started}
    finally:
        con.close()


def counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        n, customers = con.execute(
            "select count(*), count(distinct customer_id) from raw.transactions"
        ).fetchone()
        return {"transactions": n, "customers": customers}
    finally:
        con.close()


def bench(transactions: int, rounds: int, workdir: Path, warehouse: Path | None = None) -> dict:
    """Rounds on a new warehouse of ``transactions`` rows, warmed up by a whole `dbt build`
    (timed); or on a built ``warehouse`` (an `fti demo` home) that its build warmed up."""
    target = workdir / "target"
    build = None
    if warehouse is None:
        warehouse = workdir / "warehouse.duckdb"
        started = time.perf_counter()
        # In a child process: the generator's frames would stay in this one's memory.
        loaded = json.loads(python("features.py", "--load", str(workdir), str(transactions)).stdout)
        print(f"  loaded {loaded} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        build, _ = dbt(["build"], warehouse, target)  # warm-up: the project, tests included
        print(f"  dbt build {build.seconds:.0f} s", file=sys.stderr)
    else:
        loaded = counts(warehouse)
    day = last_day(warehouse)
    select = ["--select", *FEATURE_MODELS]
    rows = []
    for k in range(rounds):
        full, full_nodes = dbt(["run", *select, "--full-refresh"], warehouse, target)
        expected = fingerprint(warehouse, COMPARED)
        hand = python("features.py", "--hand", str(warehouse))
        hand_same = fingerprint(warehouse, "bench.hand_features") == expected
        incremental, incremental_nodes = dbt(["run", *select], warehouse, target, day)
        incremental_same = fingerprint(warehouse, COMPARED) == expected
        row = {
            "dbt_model_s": sum(full_nodes.values()),
            "dbt_run_wall_s": full.seconds,
            "dbt_peak_rss_mb": full.peak_rss_mb,
            "models": full_nodes,
            "duckdb_s": json.loads(hand.stdout)["seconds"],
            "duckdb_peak_rss_mb": hand.peak_rss_mb,
            "incremental_model_s": sum(incremental_nodes.values()),
            "incremental_wall_s": incremental.seconds,
            "same_values_hand": hand_same,
            "same_values_incremental": incremental_same,
            "feature_rows": expected[0],
        }
        rows.append(row)
        print(
            f"  round {k + 1}: dbt {row['dbt_model_s']:.1f} s, hand {row['duckdb_s']:.1f} s, "
            f"incremental {row['incremental_model_s']:.1f} s",
            file=sys.stderr,
        )
    models = {name: median(r["models"][name] for r in rows) for name in rows[0]["models"]}
    return {
        "transactions": loaded["transactions"],
        "customers": loaded["customers"],
        "feature_rows": rows[0]["feature_rows"],
        "rounds": rounds,
        "dbt_build_wall_s": round(build.seconds, 2) if build else None,
        "dbt_build_peak_rss_mb": round(build.peak_rss_mb) if build else None,
        "features": {
            "dbt_model_s": round(median(r["dbt_model_s"] for r in rows), 2),
            "dbt_run_wall_s": round(median(r["dbt_run_wall_s"] for r in rows), 2),
            "duckdb_s": round(median(r["duckdb_s"] for r in rows), 2),
            "ratio_vs_duckdb": round(median(r["dbt_model_s"] / r["duckdb_s"] for r in rows), 3),
            "dbt_peak_rss_mb": round(max(r["dbt_peak_rss_mb"] for r in rows)),
            "duckdb_peak_rss_mb": round(max(r["duckdb_peak_rss_mb"] for r in rows)),
            "same_values": all(r["same_values_hand"] for r in rows),
            "models_s": {name: round(s, 2) for name, s in models.items()},
        },
        "incremental": {
            "day": day,
            "incremental_model_s": round(median(r["incremental_model_s"] for r in rows), 2),
            "full_model_s": round(median(r["dbt_model_s"] for r in rows), 2),
            "incremental_wall_s": round(median(r["incremental_wall_s"] for r in rows), 2),
            "full_wall_s": round(median(r["dbt_run_wall_s"] for r in rows), 2),
            "ratio_vs_full": round(
                median(r["incremental_model_s"] / r["dbt_model_s"] for r in rows), 3
            ),
            "same_values": all(r["same_values_incremental"] for r in rows),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--warehouse", type=Path, help="a built warehouse to use instead")
    parser.add_argument("--hand", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(load_warehouse(Path(args.load[0]), int(args.load[1]))))
        return
    if args.hand:
        print(json.dumps(run_hand(args.hand)))
        return
    workdir = Path(tempfile.mkdtemp(prefix="fti-bench-features-"))
    try:
        result = bench(args.transactions, args.rounds, workdir, args.warehouse)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
