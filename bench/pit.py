"""Benchmark: point-in-time retrieval vs a hand-written DuckDB ASOF join and vs Feast's
`get_historical_features` (DuckDB offline store), same data, same run.

A spine (default 1M rows) is joined to a feature timeline (default 10M rows: 100K entities x
100 event times, 10 features). Each contender runs in a fresh process (so peak memory is its
own) and writes Parquet, alternating, several times; the figures are medians and the ratios
are taken round by round. The outputs are checked to hold the same values. Feast runs when
its virtualenv exists (`make bench-feast`, see bench/feast_pit.py).

    python bench/pit.py [--spine-rows N] [--entities N] [--times N] [--repeats N]
"""

import argparse
import json
import os
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
ROOT = Path(__file__).resolve().parent.parent
FEAST_PYTHON = ROOT / ".venv-feast" / "bin" / "python"
FEAST_SCRIPT = ROOT / "bench" / "feast_pit.py"


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
    from ml.features.retrieval import write_historical_features
    from ml.features.views import FeatureView

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


def same_output(folder: Path, other: str) -> bool:
    """Every spine row (labels are unique) has the same feature values in both outputs;
    Feast returns times with a UTC zone, so rows are matched on the label."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    ours = f"read_parquet('{folder / 'ours.parquet'}')"
    theirs = f"read_parquet('{folder / f'{other}.parquet'}')"
    n_ours, n_theirs = (
        con.execute(f"select count(*) from {r}").fetchall()[0][0] for r in (ours, theirs)
    )
    differ = con.execute(
        f"""
        select count(*) from {ours} o full join {theirs} t on o.label = t.label
        where o.label is null or t.label is null
           or o.entity_id is distinct from t.entity_id
           or o.event_timestamp is distinct from t.event_timestamp::timestamp
           or {" or ".join(f"o.timeline__{f} is distinct from t.timeline__{f}" for f in FEATURES)}
        """
    ).fetchall()[0][0]
    return n_ours == n_theirs and differ == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spine-rows", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--times", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="also write the JSON here")
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
        contenders = {
            kind: [sys.executable, __file__, "--contender", kind, "--folder", tmp]
            + (["--memory-limit", args.memory_limit] if args.memory_limit else [])
            for kind in ("ours", "hand")
        }
        if FEAST_PYTHON.exists():
            contenders["feast"] = [str(FEAST_PYTHON), str(FEAST_SCRIPT), tmp, *FEATURES]
        runs = {kind: [] for kind in contenders}
        for _ in range(args.repeats + 1):  # the first round warms the page cache
            for kind, argv in contenders.items():
                child = subprocess.run(argv, capture_output=True, text=True)
                if child.returncode:
                    raise RuntimeError(f"{kind} failed:\n{child.stderr[-3000:]}")
                runs[kind].append(json.loads(child.stdout.strip().splitlines()[-1]))
        same = {kind: same_output(folder, kind) for kind in contenders if kind != "ours"}
    rounds = list(zip(*(runs[kind][1:] for kind in contenders), strict=True))
    kinds = list(contenders)

    def seconds(kind: str) -> list[float]:
        return [r[kinds.index(kind)]["seconds"] for r in rounds]

    def peak(kind: str) -> float:
        return max(r[kinds.index(kind)]["peak_rss_mb"] for r in rounds)

    ours = seconds("ours")
    result = {
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "platform": platform.platform(),
            "duckdb": duckdb.__version__,
        },
        "memory_limit": args.memory_limit,
        "spine_rows": args.spine_rows,
        "feature_rows": args.entities * args.times,
        "features": len(FEATURES),
        "ours_seconds": statistics.median(ours),
        "hand_seconds": statistics.median(seconds("hand")),
        "ratio_vs_duckdb": statistics.median(
            o / h for o, h in zip(ours, seconds("hand"), strict=True)
        ),
        "ours_peak_rss_mb": peak("ours"),
        "hand_peak_rss_mb": peak("hand"),
        "identical_output": same["hand"],
    }
    if "feast" in contenders:
        result |= {
            "feast_seconds": statistics.median(seconds("feast")),
            "speedup_vs_feast": statistics.median(
                f / o for f, o in zip(seconds("feast"), ours, strict=True)
            ),
            "feast_peak_rss_mb": peak("feast"),
            "feast_same_values": same["feast"],
            "feast_version": runs["feast"][0]["version"],
        }
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
