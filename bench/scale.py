"""`make bench-scale`: `fti demo` on generated logs of 10M and 50M transactions on this one
machine, with the peak resident memory of the whole process tree (the pipeline's process and
dbt's, summed at each moment), how far DuckDB spilled, and each Dagster step's wall time.

The figures go into bench/results.json (section ``scale``, headline ``scale.*``) beside those
of the last `make bench`, and RESULTS.md is written again from them.

    python bench/scale.py [--sizes 10M,50M]
"""

import argparse
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from common import BIN, ROOT, customers_for, label, run_measured, step_times, write_json

BENCH = ROOT / "bench"


def bench(transactions: int, scratch: Path) -> dict[str, object]:
    home = scratch / f"scale-{label(transactions)}"
    customers = customers_for(transactions)
    measured = run_measured(
        [str(BIN / "fti"), "demo", "--customers", str(customers)],
        env={"FTI_HOME": str(home)},
        sample_tree=True,
        spill=home / "duckdb_spill",
    )
    return {
        **built(home),
        "generated_customers": customers,
        "wall_s": round(measured.seconds, 1),
        "peak_rss_gb": round(measured.tree_peak_rss_mb / 1024, 2),
        "largest_process_peak_rss_gb": round(measured.peak_rss_mb / 1024, 2),
        "spill_peak_gb": round(measured.spill_peak_mb / 1024, 2),
        "steps_s": step_times(home),
    }


def built(home: Path) -> dict[str, object]:
    """What the run built and the memory limit its DuckDB connections had."""
    import sys

    sys.path.insert(0, str(ROOT))
    import duckdb

    from ml.common.settings import duckdb_memory_limit

    counts = {
        "transactions": "raw.transactions",
        "customers": "(select distinct customer_id from raw.transactions)",
        "feature_rows": "features.customer_features",
        "labeled_rows": "training.training_set",
        "predictions": "predictions.churn_predictions",
    }
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        figures = {
            name: con.execute(f"select count(*) from {relation}").fetchall()[0][0]
            for name, relation in counts.items()
        }
    figures["duckdb_memory_limit"] = duckdb_memory_limit()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10M,50M", help="transactions, e.g. 10M,50M")
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    parser.add_argument("--markdown", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--keep", type=Path, help="build the homes here and keep them")
    args = parser.parse_args()

    import run  # the size parser, the headline and RESULTS.md's writer

    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    scale = results.setdefault("scale", {})
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="fti-scale-"))
    try:
        for size in sorted(run.parse_size(s) for s in args.sizes.split(",")):
            run.log(f"fti demo at {label(size)} transactions, memory of the whole tree sampled")
            scale[label(size)] = {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                **bench(size, scratch),
            }
            run.log(json.dumps(scale[label(size)]))
            if args.keep is None:
                shutil.rmtree(scratch / f"scale-{label(size)}", ignore_errors=True)
            results["headline"] = {**results.get("headline", {}), **run.scale_headline(results)}
            write_json(args.out, results)
            args.markdown.write_text(run.markdown(results) + run.kept_sections(args.markdown))
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
