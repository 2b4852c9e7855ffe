"""Benchmark: point-in-time retrieval vs a hand-written DuckDB ASOF join, same data, same run.

A spine (default 1M rows) is joined to a feature timeline (default 10M rows: 100K entities x
100 event times, 10 features). Each contender runs in a fresh process (so peak memory is its
own) and writes Parquet, alternating, several times; the figures are medians and the ratio is
taken pair by pair. Both outputs are checked to be identical.

    python bench/pit.py [--spine-rows N] [--entities N] [--times N] [--repeats N]
"""

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

FEATURES = [f"f{i}" for i in range(10)]


def build_data(folder: Path, spine_rows: int, entities: int, times: int) -> None:
    con = duckdb.connect(str(folder / "features.duckdb"))
    con.execute("create schema feats")
    columns = ", ".join(
        f"hash(e.entity, t.t, {i}) % 1000 / 10.0 as {f}" for i, f in enumerate(FEATURES)
    )
    con.execute(
        f"""
        create table feats.timeline as
        select e.entity::varchar as entity_id,
               timestamp '2024-01-01' + to_days(t.t * 3) as event_ts,
               {columns}
        from range({entities}) e(entity), range({times}) t(t)
        """
    )
    con.execute(
        f"""
        copy (
            select (hash(i, 'e') % {entities + entities // 20})::varchar as entity_id,
                   timestamp '2024-01-01'
                       + to_seconds(hash(i, 't') % ({times} * 3 * 86400 + 86400 * 10))
                       as event_timestamp,
                   i as label
            from range({spine_rows}) r(i)
        ) to '{folder / "spine.parquet"}' (format parquet)
        """
    )
    con.close()


def run_contender(kind: str, folder: Path, memory_limit: str | None) -> dict:
    from ml.feature_views import FeatureView
    from ml.retrieval import write_historical_features

    con = duckdb.connect(str(folder / "features.duckdb"), read_only=True)
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute(f"set temp_directory = '{folder / 'spill'}'")
    out = folder / f"{kind}.parquet"
    started = time.perf_counter()
    if kind == "ours":
        view = FeatureView(
            name="timeline",
            version=1,
            entity="entity_id",
            timestamp_column="event_ts",
            max_age_days=None,
            features=tuple(FEATURES),
            descriptions=("",) * len(FEATURES),
            relation="feats.timeline",
            fingerprint="bench",
        )
        write_historical_features(con, folder / "spine.parquet", out, {view: FEATURES})
    else:
        con.execute(
            f"""
            copy (
                select s.*, {", ".join(f"f.{f} as timeline__{f}" for f in FEATURES)}
                from read_parquet('{folder / "spine.parquet"}') s
                asof left join feats.timeline f
                  on s.entity_id = f.entity_id and s.event_timestamp >= f.event_ts
            ) to '{out}' (format parquet)
            """
        )
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mb": peak_mb}


def same_output(folder: Path) -> bool:
    con = duckdb.connect()
    ours = f"read_parquet('{folder / 'ours.parquet'}')"
    hand = f"read_parquet('{folder / 'hand.parquet'}')"
    n_ours, n_hand = (
        con.execute(f"select count(*) from {r}").fetchall()[0][0] for r in (ours, hand)
    )
    differ = con.execute(
        f"select count(*) from (select * from {ours} except all select * from {hand})"
    ).fetchall()[0][0]
    return n_ours == n_hand and differ == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spine-rows", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--times", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results_pit.json"))
    parser.add_argument(
        "--memory-limit", help="DuckDB memory_limit for both contenders, e.g. 1GB (spills)"
    )
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(run_contender(args.contender, Path(args.folder), args.memory_limit)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        build_data(folder, args.spine_rows, args.entities, args.times)
        print(f"data built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        runs = {"ours": [], "hand": []}
        for _ in range(args.repeats + 1):  # the first pair warms the page cache
            for kind in ("ours", "hand"):
                child = subprocess.run(
                    [sys.executable, __file__, "--contender", kind, "--folder", tmp]
                    + (["--memory-limit", args.memory_limit] if args.memory_limit else []),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[kind].append(json.loads(child.stdout))
        identical = same_output(folder)
    pairs = [
        o["seconds"] / h["seconds"] for o, h in zip(runs["ours"][1:], runs["hand"][1:], strict=True)
    ]
    result = {
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "platform": platform.platform(),
            "duckdb": duckdb.__version__,
        },
        "memory_limit": args.memory_limit,
        "spine_rows": args.spine_rows,
        "feature_rows": args.entities * args.times,
        "features": len(FEATURES),
        "ours_seconds": statistics.median(r["seconds"] for r in runs["ours"][1:]),
        "hand_seconds": statistics.median(r["seconds"] for r in runs["hand"][1:]),
        "ratio_vs_duckdb": statistics.median(pairs),
        "ours_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["ours"][1:]),
        "hand_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["hand"][1:]),
        "identical_output": identical,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
