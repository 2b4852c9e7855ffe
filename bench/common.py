"""What every benchmark shares: timing a child process with its peak memory, medians of
pairs, the machine's description, and a warehouse of generated data at a given size.

Each contender runs in its own process so that its peak memory is its own and no cache of a
previous contender survives in Python; pairs alternate so that drift of this shared machine
hits both sides, and ratios are taken pair by pair before the median.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TRANSACTIONS_PER_CUSTOMER = (
    18.45  # what ml.ingestion.generator draws on average (1M rows = 55,000 ids)
)


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str


def run_measured(argv: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Measured:
    """Run a command to completion; its wall time and the peak resident memory of the
    largest process in its tree (Linux folds reaped descendants into the child's maximum)."""
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    environment.update(env or {})
    with tempfile.TemporaryFile(mode="w+") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)  # reaped here, so the rusage is its own
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        process.stdout.close()
        if process.returncode:
            errors.seek(0)
            tail = "\n".join((stdout + errors.read()).splitlines()[-30:])
            raise RuntimeError(f"{' '.join(argv[:4])} failed ({process.returncode}):\n{tail}")
    peak = usage.ru_maxrss / 1024
    return Measured(seconds, peak, stdout)


def python(script: str, *args: str, env: dict[str, str] | None = None) -> Measured:
    return run_measured([sys.executable, str(ROOT / "bench" / script), *args], env=env)


def median(values) -> float:
    return float(statistics.median(list(values)))


def machine() -> dict[str, object]:
    import duckdb
    import sklearn

    meminfo = Path("/proc/meminfo").read_text().split()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "memory_gb": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "duckdb": duckdb.__version__,
        "scikit_learn": sklearn.__version__,
        "dbt_core": _version("dbt-core"),
        "dagster": _version("dagster"),
        "mlflow": _version("mlflow"),
    }


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def customers_for(transactions: int) -> int:
    return max(1, round(transactions / TRANSACTIONS_PER_CUSTOMER))


def label(transactions: int) -> str:
    return f"{transactions // 1_000_000}M" if transactions >= 1_000_000 else str(transactions)


def load_warehouse(home: Path, transactions: int, seed: int = 7) -> dict[str, object]:
    """A warehouse holding the generated log at about ``transactions`` rows, loaded through
    the product's own ingestion (the same validation and raw tables as `fti demo`)."""
    sys.path.insert(0, str(ROOT))
    import duckdb

    from ml.ingestion import generator
    from ml.ingestion.raw_log import ingest_frames

    home.mkdir(parents=True, exist_ok=True)
    log = generator.generate(customers=customers_for(transactions), seed=seed)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        result = ingest_frames(con, log.transactions, log.customers, log.customer_history)
    finally:
        con.close()
    return {"transactions": result.transactions, "customers": result.customers}


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
