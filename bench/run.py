"""`make bench`: every benchmark, side by side with its reference, in one run.

Writes bench/results.json (every figure) and bench/RESULTS.md (the table, the targets, the
machine). Sizes are transactions of the generated log; at each size the feature pipeline is
timed against a hand-written DuckDB statement and one new day incrementally against a full
rebuild. The point-in-time benchmark (against DuckDB's ASOF join and Feast), MLflow tracking,
`fti demo` end to end (on the default data and at the largest size), batch scoring against
its floor and online latency complete it.

    python bench/run.py [--sizes 1M,10M] [--rounds 3] [--large-rounds 2] [--skip NAME ...]
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import batch
import features
from common import (
    BIN,
    ROOT,
    customers_for,
    label,
    machine,
    python,
    run_measured,
    step_times,
    write_json,
)

BENCH = ROOT / "bench"
SECTIONS = (
    "features",
    "pit",
    "tracking",
    "demo",
    "batch",
    "online",
    "threads",
    "monitoring",
    "scale",
)

# (figure, target, "<=" or ">=") per key of results.json; the Markdown table follows this order.
TARGETS = {
    "features.ratio_vs_duckdb": (1.2, "<="),
    "incremental.ratio_vs_full": (0.1, "<="),
    "pit.ratio_vs_duckdb": (1.5, "<="),
    "pit.speedup_vs_feast": (10.0, ">="),
    "batch.ratio_vs_floor": (2.0, "<="),
    "online.p50_ms": (2.0, "<="),
    "online.p99_ms": (5.0, "<="),
    "online.ratio_vs_bare": (2.0, "<="),
    "online.speedup_vs_mlflow_serve": (3.0, ">="),
    "threads.slowdown_beside_busy": (2.0, "<="),
    "monitoring.drift_speedup_vs_pandas": (1.0, ">="),
    "demo.pipeline_s@default": (60.0, "<="),
    "scale.peak_rss_gb@10M": (8.0, "<="),
    "scale.peak_rss_gb@50M": (12.0, "<="),
}

# The incremental target is set where a run's fixed costs no longer dominate.
TARGET_FROM_SIZE = {"incremental.ratio_vs_full": 10_000_000}


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * scale)


def demo(home: Path, customers: int | None = None) -> dict:
    """`fti demo` on a fresh home, as a user runs it: wall time, peak memory, and the time of
    each Dagster step (where the time goes)."""
    argv = [str(BIN / "fti"), "demo"] + (["--customers", str(customers)] if customers else [])
    measured = run_measured(argv, env={"FTI_HOME": str(home)}, sample_tree=True)
    return {
        "customers": customers or 5000,
        "wall_s": round(measured.seconds, 1),
        "peak_rss_mb": round(measured.peak_rss_mb),
        "tree_peak_rss_mb": round(measured.tree_peak_rss_mb),
        "steps_s": child_json("run.py", "--step-times", str(home)),
    }


def child_json(script: str, *args: str, env: dict[str, str] | None = None) -> dict:
    return json.loads(python(script, *args, env=env).stdout)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def run(
    sizes: list[int],
    scale_sizes: list[int],
    rounds: int,
    large_rounds: int,
    skip: set[str],
    scratch: Path,
) -> dict:
    results: dict[str, object] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sizes": {},
    }
    largest = max(sizes)
    homes: dict[str, Path] = {}
    if "demo" not in skip:
        log("fti demo on the default data")
        homes["default"] = scratch / "demo-default"
        results["demo"] = {"default": demo(homes["default"])}
        log(f"fti demo at {label(largest)} transactions")
        homes["largest"] = scratch / f"demo-{label(largest)}"
        results["demo"][label(largest)] = demo(homes["largest"], customers_for(largest))
    if "batch" not in skip and homes:
        log("batch scoring vs floor")
        results["batch"] = {
            name: batch.bench(home, rounds if name == "default" else large_rounds)
            for name, home in homes.items()
        }
        results["batch"] = {
            ("default" if name == "default" else label(largest)): figures
            for name, figures in results["batch"].items()
        }
    if "online" not in skip and "default" in homes:
        log("online latency")
        results["online"] = child_json("online.py", env={"FTI_HOME": str(homes["default"])})
    shutil.rmtree(homes.pop("default", scratch / "none"), ignore_errors=True)
    if "features" not in skip:
        for size in sorted(sizes):
            log(f"features and incremental at {label(size)} transactions")
            workdir = scratch / f"features-{label(size)}"
            workdir.mkdir()
            # The largest size reuses the warehouse `fti demo` just built (and warmed up):
            # generating and building it again would cost minutes.
            built = homes["largest"] / "warehouse.duckdb" if size == largest and homes else None
            started = time.perf_counter()
            figures = features.bench(
                size, rounds if size < 10_000_000 else large_rounds, workdir, built
            )
            if built is not None:
                steps = results["demo"][label(size)]["steps_s"]
                figures["dbt_build_wall_s"] = steps.get("dbt_models")
                figures["dbt_build_source"] = "the dbt step of `fti demo` at this size"
            figures["bench_s"] = round(time.perf_counter() - started)
            results["sizes"][label(size)] = figures
            shutil.rmtree(workdir, ignore_errors=True)
    for home in homes.values():
        shutil.rmtree(home, ignore_errors=True)
    if "pit" not in skip:
        log("point-in-time retrieval vs DuckDB ASOF join and Feast")
        results["pit"] = child_json("pit.py", "--repeats", str(rounds))
    if "tracking" not in skip:
        log("MLflow tracking")
        results["tracking"] = child_json("tracking.py")
    if "threads" not in skip:
        log("a model fit beside a busy process, by thread setting")
        results["threads"] = child_json("threads.py", "--rounds", str(rounds))
    if "scale" not in skip:
        import scale

        results["scale"] = {}
        for size in scale_sizes:
            log(f"fti demo at {label(size)} transactions, memory of the whole tree sampled")
            results["scale"][label(size)] = scale.bench(size, scratch)
    if "monitoring" not in skip:
        customers = customers_for(max(sizes))
        log(f"drift and realized performance in DuckDB vs pandas/scipy/sklearn, {customers} rows")
        results["monitoring"] = child_json(
            "drift.py", "--customers", str(customers), "--rounds", str(rounds)
        )
    results["headline"] = headline(results, sizes)
    return results


def scale_headline(results: dict) -> dict[str, object]:
    flat: dict[str, object] = {}
    for size_label, figures in results.get("scale", {}).items():
        flat[f"scale.peak_rss_gb@{size_label}"] = figures["peak_rss_gb"]
        flat[f"scale.wall_s@{size_label}"] = figures["wall_s"]
    return flat


def headline(results: dict, sizes: list[int]) -> dict[str, object]:
    """The figures the issue names, flat: the feature figures at every size, the rest once."""
    flat: dict[str, object] = {}
    for size_label, figures in results["sizes"].items():
        flat[f"features.ratio_vs_duckdb@{size_label}"] = figures["features"]["ratio_vs_duckdb"]
        flat[f"incremental.ratio_vs_full@{size_label}"] = figures["incremental"]["ratio_vs_full"]
    if "pit" in results:
        flat["pit.ratio_vs_duckdb"] = round(results["pit"]["ratio_vs_duckdb"], 3)
        if "speedup_vs_feast" in results["pit"]:
            flat["pit.speedup_vs_feast"] = round(results["pit"]["speedup_vs_feast"], 2)
    for name, figures in results.get("batch", {}).items():
        flat[f"batch.ratio_vs_floor@{name}"] = figures["ratio_vs_floor"]
    for key, value in results.get("online", {}).get("online", {}).items():
        flat[f"online.{key}"] = value
    ours = [t for name, t in results.get("threads", {}).get("threads", {}).items() if "fti" in name]
    if ours:
        flat["threads.slowdown_beside_busy"] = ours[0]["slowdown"]
    if "demo" in results:
        flat["demo.pipeline_s@default"] = results["demo"]["default"]["wall_s"]
    flat.update(scale_headline(results))
    if "monitoring" in results:
        flat["monitoring.drift_speedup_vs_pandas"] = results["monitoring"]["drift"]["speedup"]
        flat["monitoring.realized_speedup_vs_sklearn"] = results["monitoring"]["realized"][
            "speedup"
        ]
    return flat


def verdict(key: str, value: float) -> str:
    name, _, size = key.partition("@")
    target = TARGETS.get(key, TARGETS.get(name))
    if target is None:
        return ""
    if name in TARGET_FROM_SIZE and size and parse_size(size) < TARGET_FROM_SIZE[name]:
        return f"(target applies from {label(TARGET_FROM_SIZE[name])})"
    limit, sense = target
    met = value <= limit if sense == "<=" else value >= limit
    return f"{sense} {limit:g}: {'met' if met else '**not met**'}"


KEPT = "## Measurements behind choices in the code"


def kept_sections(path: Path) -> str:
    """The hand-kept section of RESULTS.md (figures the code's comments refer to), carried
    over when the generated part is rewritten."""
    text = path.read_text() if path.exists() else ""
    return "\n" + text[text.index(KEPT) :] if KEPT in text else ""


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `make bench` at {results['generated_at']} on {m['cpus']} CPUs "
        f"({m['cpu_model']}), {m['memory_gb']} GB RAM, {m['platform']}; Python {m['python']}, "
        f"DuckDB {m['duckdb']}, dbt-core {m['dbt_core']}, Dagster {m['dagster']}, "
        f"MLflow {m['mlflow']}, scikit-learn {m['scikit_learn']}. Every figure is a median "
        "after a warm-up; every ratio is taken pair by pair in this run. Methods: "
        "[bench/README.md](README.md).",
        "",
        "## Targets",
        "",
        "| figure | value | target |",
        "|---|---|---|",
    ]
    for key, value in results["headline"].items():
        lines.append(f"| `{key}` | {value} | {verdict(key, value)} |")
    if results["sizes"]:
        lines += [
            "",
            "## Feature pipeline and incremental update, by size",
            "",
            "| transactions | customers | feature rows | dbt feature models | hand-written "
            "DuckDB | ratio | same values | `dbt build` wall (whole project) | peak RSS dbt / "
            "DuckDB | one new day | full rebuild | ratio | same values |",
            "|" + "---|" * 13,
        ]
        for size_label, s in results["sizes"].items():
            f, i = s["features"], s["incremental"]
            build = f"{s['dbt_build_wall_s']} s" + ("*" if "dbt_build_source" in s else "")
            lines.append(
                f"| {size_label} ({s['transactions']:,}) | {s['customers']:,} | "
                f"{s['feature_rows']:,} | {f['dbt_model_s']} s | {f['duckdb_s']} s | "
                f"{f['ratio_vs_duckdb']} | {f['same_values']} | {build} | "
                f"{f['dbt_peak_rss_mb']:,} / {f['duckdb_peak_rss_mb']:,} MB | "
                f"{i['incremental_model_s']} s | {i['full_model_s']} s | {i['ratio_vs_full']} | "
                f"{i['same_values']} |"
            )
        if any("dbt_build_source" in s for s in results["sizes"].values()):
            lines += ["", "\\* the dbt step of `fti demo` at that size (its warehouse is reused)."]
        lines += ["", "dbt model time by model (median, seconds):", ""]
        for size_label, s in results["sizes"].items():
            models = ", ".join(f"{k} {v}" for k, v in s["features"]["models_s"].items())
            lines.append(f"- {size_label}: {models}")
    if "pit" in results:
        p = results["pit"]
        lines += [
            "",
            "## Point-in-time training set",
            "",
            f"{p['spine_rows']:,}-row spine x {p['feature_rows']:,}-row feature timeline, "
            f"{p['features']} features, to Parquet.",
            "",
            "| contender | seconds | peak RSS | same values as ours |",
            "|---|---|---|---|",
            f"| ours (`ml.features.retrieval`) | {p['ours_seconds']:.2f} | "
            f"{p['ours_peak_rss_mb']:,.0f} MB | |",
            f"| hand-written DuckDB ASOF join | {p['hand_seconds']:.2f} | "
            f"{p['hand_peak_rss_mb']:,.0f} MB | {p['identical_output']} |",
        ]
        if "feast_seconds" in p:
            lines.append(
                f"| Feast {p['feast_version']} `get_historical_features`, DuckDB offline store "
                f"| {p['feast_seconds']:.2f} | {p['feast_peak_rss_mb']:,.0f} MB | "
                f"{p['feast_same_values']} |"
            )
    if "batch" in results:
        lines += [
            "",
            "## Batch scoring",
            "",
            "| data | customers | ours | floor (read matrix + `predict_proba`) | ratio | "
            "same values |",
            "|---|---|---|---|---|---|",
        ]
        for name, b in results["batch"].items():
            lines.append(
                f"| {name} | {b['customers']:,} | {b['ours_s']} s | {b['floor_s']} s | "
                f"{b['ratio_vs_floor']} | {b['same_values']} |"
            )
    if "online" in results:
        lines += ["", "## Online", "", "| server | p50 ms | p99 ms |", "|---|---|---|"]
        for name, figures in results["online"]["servers"].items():
            lines.append(f"| {name} | {figures['p50_ms']} | {figures['p99_ms']} |")
        rps = results["online"]["online"]["throughput_rps_8_clients"]
        lines += ["", f"`fti serve` with 8 concurrent clients: {rps} requests/s."]
    if "demo" in results:
        lines += ["", "## End to end (`fti demo` on a fresh home)", ""]
        lines += [
            "| data | customers | wall | peak RSS (largest process) | peak RSS (whole tree) |",
            "|---|---|---|---|---|",
        ]
        for name, d in results["demo"].items():
            tree = f"{d['tree_peak_rss_mb']:,} MB" if "tree_peak_rss_mb" in d else "not sampled"
            lines.append(
                f"| {name} | {d['customers']:,} | {d['wall_s']} s | {d['peak_rss_mb']:,} MB | "
                f"{tree} |"
            )
        lines += ["", "Where the time goes (seconds per Dagster step):", ""]
        for name, d in results["demo"].items():
            steps = sorted(d["steps_s"].items(), key=lambda kv: -kv[1])
            lines.append(f"- {name}: " + ", ".join(f"`{k}` {v}" for k, v in steps if v >= 0.5))
    if "scale" in results:
        lines += [
            "",
            "## Scale on one machine (`fti demo` on a generated log, `make bench-scale`)",
            "",
            "| transactions | customers | feature rows | labeled rows | wall | peak RSS, whole "
            "tree | largest process | DuckDB limit | spilled (peak) | measured |",
            "|" + "---|" * 10,
        ]
        for size_label, c in results["scale"].items():
            lines.append(
                f"| {size_label} ({c['transactions']:,}) | {c['customers']:,} | "
                f"{c['feature_rows']:,} | {c['labeled_rows']:,} | {c['wall_s']} s | "
                f"{c['peak_rss_gb']} GB | {c['largest_process_peak_rss_gb']} GB | "
                f"{c['duckdb_memory_limit']} | {c['spill_peak_gb']} GB | "
                f"{c.get('measured_at', results['generated_at'])} |"
            )
        lines += ["", "Where the time goes (seconds per Dagster step):", ""]
        for size_label, c in results["scale"].items():
            steps = sorted(c["steps_s"].items(), key=lambda kv: -kv[1])
            lines.append(
                f"- {size_label}: " + ", ".join(f"`{k}` {v}" for k, v in steps if v >= 0.5)
            )
    if "monitoring" in results:
        m = results["monitoring"]
        lines += [
            "",
            f"## Monitoring statistics ({m['customers']} customers per scoring date)",
            "",
            "| what | DuckDB SQL | pandas/scipy/sklearn (reading the rows first) | "
            "largest difference |",
            "|---|---|---|---|",
            f"| drift: PSI, JS, KS, null rate of {m['drift']['inputs']} inputs | "
            f"{m['drift']['duckdb_s']} s | {m['drift']['pandas_scipy_s']} s | "
            f"{max(m['drift']['max_abs_difference'].values()):.1e} |",
            f"| realized: ROC/PR AUC, Brier over {m['realized']['rows']} rows, "
            f"{m['realized']['dates']} dates | {m['realized']['duckdb_s']} s | "
            f"{m['realized']['sklearn_s']} s | "
            f"{max(m['realized']['max_abs_difference'].values()):.1e} |",
        ]
    if "threads" in results:
        lines += [
            "",
            "## A fit beside a busy process",
            "",
            "| threads | alone | beside one busy process | slowdown |",
            "|---|---|---|---|",
        ]
        for name, t in results["threads"]["threads"].items():
            lines.append(
                f"| {name} | {t['alone_seconds']} s | {t['beside_busy_seconds']} s | "
                f"{t['slowdown']}x |"
            )
    if "tracking" in results:
        t = results["tracking"]
        lines += [
            "",
            "## MLflow tracking",
            "",
            f"Logging and registering a version: {t['log_and_register_seconds']['median']} s, "
            f"{t['ratio_vs_fit']:.0%} of fitting the model on {t['rows']:,} rows.",
        ]
    lines += ["", f"`make bench` took {results['total_minutes']} minutes.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M", help="transactions, e.g. 1M,10M,50M")
    parser.add_argument(
        "--scale-sizes", default="10M,50M", help="`fti demo` with the whole tree's memory"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds below 10M transactions")
    parser.add_argument("--large-rounds", type=int, default=2, help="rounds from 10M on")
    parser.add_argument("--skip", nargs="*", default=[], choices=SECTIONS)
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    parser.add_argument("--markdown", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--step-times", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step_times:
        print(json.dumps(step_times(args.step_times)))
        return
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="fti-bench-"))
    try:
        scale_sizes = [parse_size(s) for s in args.scale_sizes.split(",")]
        results = run(sizes, scale_sizes, args.rounds, args.large_rounds, set(args.skip), scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results["total_minutes"] = round((time.perf_counter() - started) / 60, 1)
    write_json(args.out, results)
    args.markdown.write_text(markdown(results) + kept_sections(args.markdown))
    log(f"wrote {args.out} and {args.markdown} in {results['total_minutes']} minutes")


if __name__ == "__main__":
    main()
