"""Benchmark: single-customer online prediction latency, side by side in one run.

Three servers, one uvicorn worker each, on loopback, each hit by one keep-alive client:
`fti serve` (POST /predict with a customer id: online-store lookup + champion predict), a bare
FastAPI endpoint answering a constant (the floor of HTTP + JSON), and `mlflow models serve` of
the same champion given the customer's feature vector (what MLflow offers without a feature
store). Rounds alternate between the servers so drift hits all three; the figures are
percentiles over all rounds, and the ratios are taken per round. Then throughput of
`fti serve` with 8 concurrent keep-alive clients.

    python bench/online.py [--requests N] [--rounds N]   (needs a built FTI_HOME: fti demo)
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.common.settings import MODEL_NAME, export_environment  # noqa: E402
from ml.features import on_demand  # noqa: E402
from ml.features.online_store import get_online_features  # noqa: E402

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def start(argv: list[str], port: int, health: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{health}", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{argv[0]} did not start on port {port}; see {log}")


def timed(client: httpx.Client, url: str, payloads: list[dict], n: int) -> list[float]:
    out = []
    for k in range(n):
        started = time.perf_counter()
        response = client.post(url, json=payloads[k % len(payloads)])
        out.append((time.perf_counter() - started) * 1000.0)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def throughput(url: str, payloads: list[dict], clients: int, seconds: float) -> float:
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def work(k: int) -> None:
        with httpx.Client() as client:
            while time.monotonic() < stop:
                client.post(url, json=payloads[(counts[k] + k) % len(payloads)])
                counts[k] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000, help="per server per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    paths = export_environment()
    env_ids = [f"C{i:07d}" for i in range(0, 5000, 50)]
    found = get_online_features(paths, env_ids)
    ids = [i for i in env_ids if i in found.rows]
    if not ids:
        raise SystemExit("no customers in the online store: run `fti demo` first")

    from ml.common.model_input import categorical_columns, input_columns
    from ml.registry import model_registry

    client = model_registry.configure(paths)
    version = model_registry.champion_version(client)
    model = model_registry.load_version(client, version)
    columns, categorical = input_columns(model), categorical_columns(model)

    now = pd.Timestamp.now(tz="UTC").tz_localize(None)

    def vector(i: str) -> dict:
        """The feature vector `fti serve` would build now, for MLflow's server."""
        features = dict(found.rows[i])
        days = on_demand.days_since_last_purchase(
            [features.get(on_demand.LAST_PURCHASE)], [now.to_pydatetime()]
        )
        features[on_demand.DAYS_SINCE_LAST_PURCHASE] = float(days[0])
        row = [
            (features[c] if features[c] is not None else "unknown")
            if c in categorical
            else features[c]
            for c in columns
        ]
        return {"dataframe_split": {"columns": columns, "data": [row]}}

    servers = {
        "fti": (
            [str(BIN / "fti"), "serve", "--port", "8701"],
            8701,
            "/health",
            "/predict",
            [{"customer_id": i} for i in ids],
        ),
        "bare": (
            [
                str(BIN / "uvicorn"),
                "bench.bare_app:app",
                "--port",
                "8702",
                "--log-level",
                "warning",
            ],
            8702,
            "/docs",
            "/predict",
            [{"customer_id": i} for i in ids],
        ),
        "mlflow_serve": (
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{MODEL_NAME}/{version}",
                "--env-manager",
                "local",
                "-p",
                "8703",
                "-w",
                "1",
            ],
            8703,
            "/ping",
            "/invocations",
            [vector(i) for i in ids],
        ),
    }
    env_before = dict(os.environ)
    processes = {}
    try:
        for name, (argv, port, health, _, _) in servers.items():
            log = Path(tempfile.gettempdir()) / f"fti-bench-{name}.log"
            processes[name] = start(argv, port, health, log)
        latencies: dict[str, list[float]] = {name: [] for name in servers}
        per_round = []
        with httpx.Client() as http:
            for _name, (_, port, _, path, payloads) in servers.items():  # warm-up
                timed(http, f"http://127.0.0.1:{port}{path}", payloads, 200)
            for _ in range(args.rounds):
                medians = {}
                for name, (_, port, _, path, payloads) in servers.items():
                    got = timed(http, f"http://127.0.0.1:{port}{path}", payloads, args.requests)
                    latencies[name] += got
                    medians[name] = statistics.median(got)
                per_round.append(medians)
        fti_url = "http://127.0.0.1:8701/predict"
        rps = throughput(fti_url, servers["fti"][4], clients=8, seconds=5.0)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=30)
        os.environ.clear()
        os.environ.update(env_before)

    summary = {
        name: {
            "p50_ms": round(percentile(values, 0.50), 3),
            "p99_ms": round(percentile(values, 0.99), 3),
            "requests": len(values),
        }
        for name, values in latencies.items()
    }
    result = {
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "model_version": version,
        "servers": summary,
        "online": {
            "p50_ms": summary["fti"]["p50_ms"],
            "p99_ms": summary["fti"]["p99_ms"],
            "ratio_vs_bare": round(statistics.median(r["fti"] / r["bare"] for r in per_round), 3),
            "speedup_vs_mlflow_serve": round(
                statistics.median(r["mlflow_serve"] / r["fti"] for r in per_round), 3
            ),
            "throughput_rps_8_clients": round(rps, 1),
        },
        "targets": {"p50_ms": 2.0, "p99_ms": 5.0, "ratio_vs_bare": 2.0, "speedup_vs_mlflow": 3.0},
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
