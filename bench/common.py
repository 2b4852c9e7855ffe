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
import threading
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
    peak_rss_mb: float  # the largest process of the tree
    stdout: str
    tree_peak_rss_mb: float | None = None  # the whole tree at once, when sampled
    spill_peak_mb: float | None = None  # the largest the spill folder grew, when sampled


def run_measured(
    argv: list[str],
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    sample_tree: bool = False,
    spill: Path | None = None,
) -> Measured:
    """Run a command to completion; its wall time and the peak resident memory of the
    largest process in its tree (Linux folds reaped descendants into the child's maximum).
    With ``sample_tree``, also the peak of the sum over the whole tree (the command, dbt and
    any other child alive at the same moment), sampled every 0.2 s, and of ``spill``'s size."""
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    environment.update(env or {})
    with tempfile.TemporaryFile(mode="w+") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        sampler = _TreeSampler(process.pid, spill) if sample_tree else None
        stdout = process.stdout.read()
        if sampler:
            sampler.stop()
        _, status, usage = os.wait4(process.pid, 0)  # reaped here, so the rusage is its own
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        process.stdout.close()
        if process.returncode:
            errors.seek(0)
            tail = "\n".join((stdout + errors.read()).splitlines()[-30:])
            raise RuntimeError(f"{' '.join(argv[:4])} failed ({process.returncode}):\n{tail}")
    peak = usage.ru_maxrss / 1024
    if sampler is None:
        return Measured(seconds, peak, stdout)
    return Measured(seconds, peak, stdout, sampler.peak_rss_mb, sampler.peak_spill_mb)


class _TreeSampler(threading.Thread):
    """Polls /proc for the resident memory of a process and all its descendants."""

    def __init__(self, root: int, spill: Path | None) -> None:
        super().__init__(daemon=True)
        self.root, self.spill = root, spill
        self.peak_rss_mb = 0.0
        self.peak_spill_mb = 0.0
        self._done = threading.Event()
        self.start()

    def stop(self) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        ticks = 0
        while not self._done.wait(0.2):
            self.peak_rss_mb = max(self.peak_rss_mb, tree_rss_mb(self.root))
            ticks += 1
            if self.spill is not None and ticks % 10 == 0:
                self.peak_spill_mb = max(self.peak_spill_mb, folder_mb(self.spill))


_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and every descendant alive now (pages counted once per
    process: shared libraries count in each, so this errs high)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
    return total * _PAGE_MB


def folder_mb(folder: Path) -> float:
    if not folder.exists():
        return 0.0
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


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


def step_times(home: Path) -> dict[str, float]:
    """Seconds per step of the home's latest Dagster run, from its instance."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_step_stats(run.run_id)
    return {s.step_key: round(s.end_time - s.start_time, 1) for s in stats if s.end_time}


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
