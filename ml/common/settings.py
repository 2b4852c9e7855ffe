"""The one place where locations are resolved.

Everything the system writes lives under ``FTI_HOME`` (default ``./data``), so a test or a second
checkout can point it elsewhere and never share a warehouse, registry or Dagster instance by
accident. Paths are absolute because dbt, MLflow and Dagster each run from other directories.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from ml.common.errors import FtiError

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# The parse Dagster's definitions and the feature store read, in a target folder of its own:
# an analyst's `dbt build` or `dbt docs generate` rewrites dbt's own target/manifest.json in
# place, and a pipeline loading its definitions meanwhile would read half a file.
DBT_PARSE_DIR = DBT_PROJECT_DIR / "target" / "fti"
MODEL_NAME = "churn"
EXPERIMENT_NAME = "churn"


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.mlflow_dir / "artifacts"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def duckdb_spill(self) -> Path:
        """Where DuckDB spills what does not fit under its memory limit (every connection's
        ``temp_directory``, dbt's included)."""
        return self.home / "duckdb_spill"

    @property
    def dbt_parse_state(self) -> Path:
        """dbt's partial-parse state after this home's last build, one file per engine. dbt
        re-parses the whole project (about 4 s) when the profile (the warehouse path among
        it) differs from the saved state's, so the checkout's own state serves only the
        home that wrote it; several homes on one checkout (tests, benchmarks) each keep
        theirs here."""
        return self.home / "dbt_parse"

    @property
    def dbt_docs(self) -> Path:
        """`fti docs`'s dbt target folder: the catalog describes this home's warehouse."""
        return self.home / "dbt_docs"

    @property
    def training_settings(self) -> Path:
        """The home's training settings (YAML, the training asset's config): used by every run
        that trains without settings of its own, the schedule's and the sensors' included."""
        return self.home / "training_settings.yml"

    @property
    def published(self) -> Path:
        """Snapshots for readers (dashboard, status) that must never open the live warehouse."""
        return self.home / "published"


# DuckDB's own default is 80% of RAM per process, which a dbt build of a large log takes while
# the pipeline's Python process holds its own; a quarter leaves room for both and for
# scikit-learn, and DuckDB spills the rest to disk.
MEMORY_SHARE = 0.25
MIN_MEMORY_GB = 1


def duckdb_memory_limit() -> str:
    """The ``memory_limit`` of every DuckDB connection the project opens, dbt's included:
    ``FTI_DUCKDB_MEMORY_LIMIT`` (any DuckDB size, e.g. ``2GB``) or a quarter of the RAM."""
    configured = os.environ.get("FTI_DUCKDB_MEMORY_LIMIT", "").strip()
    if configured:
        return _usable_memory_limit(configured.replace("'", ""))
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(MIN_MEMORY_GB, int(total * MEMORY_SHARE / 2**30))}GB"


class SettingError(FtiError):
    """An environment variable the project reads holds a value it cannot use."""


@functools.cache
def _usable_memory_limit(value: str) -> str:
    """``value``, once DuckDB has taken it: a size it cannot read would otherwise pass into
    the run and fail every step on a parser error that does not name the variable."""
    import duckdb

    try:
        with duckdb.connect() as con:
            con.execute(f"set memory_limit = '{value}'")
    except duckdb.Error as exc:
        raise SettingError(
            f"FTI_DUCKDB_MEMORY_LIMIT={value} is not a size DuckDB takes ({exc}); "
            "give one such as 4GB or 500MB, or unset it for a quarter of the RAM"
        ) from exc
    return value


def whole_number(name: str) -> int | None:
    """Environment variable ``name`` as a whole number of at least 1; None when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise SettingError(f"{name}={raw} is not a whole number of at least 1")
    return int(raw)


def day(name: str, default: str) -> str:
    """Environment variable ``name`` as a YYYY-MM-DD day, ``default`` when unset."""
    raw = os.environ.get(name, "").strip() or default
    try:
        dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise SettingError(f"{name}={raw} is not a day (YYYY-MM-DD)") from exc
    return raw


def share(name: str, default: float) -> float:
    """Environment variable ``name`` as a share between 0 and 1, ``default`` when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise SettingError(f"{name}={raw} is not a share between 0 and 1")
    return value


# The settings read beyond this module, each through its function here: checked together as
# a command starts (``export_environment``), so a bad value stops it before anything runs
# instead of failing the step, the definitions' load or the server that reads it.
THREADS = "FTI_THREADS"
PARTITION_START = "FTI_PARTITION_START"


def fitting_threads_setting() -> int | None:
    """Threads of a training fit (ml/common/threads.py); None: decided by the idle cores."""
    return whole_number(THREADS)


def partition_start() -> str:
    """The first daily partition."""
    return day(PARTITION_START, "2023-01-01")


def challenger_share() -> float:
    """The API's share of customers scored by the challenger (0: champion only)."""
    return share("FTI_CHALLENGER_SHARE", 0.0)


def check_settings() -> None:
    duckdb_memory_limit()
    fitting_threads_setting()
    partition_start()
    challenger_share()


def paths() -> Paths:
    return Paths(Path(os.environ.get("FTI_HOME", REPO_ROOT / "data")).resolve())


def export_environment(p: Paths | None = None) -> Paths:
    """Publish the resolved locations to the environment read by dbt, MLflow and Dagster."""
    p = p or paths()
    check_settings()  # a bad setting refused before anything is written
    try:
        p.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingError(f"FTI_HOME={p.home} cannot hold the home: {exc.strerror}") from exc
    os.environ["FTI_HOME"] = str(p.home)
    os.environ["FTI_WAREHOUSE"] = str(p.warehouse)
    os.environ["MLFLOW_TRACKING_URI"] = p.tracking_uri
    os.environ["DAGSTER_HOME"] = str(p.dagster_home)
    # dbt's profile reads these, so the dbt build is bounded like the project's connections.
    os.environ["FTI_DUCKDB_MEMORY_LIMIT"] = duckdb_memory_limit()
    os.environ["FTI_DUCKDB_SPILL"] = str(p.duckdb_spill)
    # Copying a run's artifacts is local; its progress bar would only litter the run's log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return p
