"""The dashboard's only way to what the pipeline published (never the warehouse, never a
model): the current snapshot's files, the monitoring report and the stages' checks.

Snapshot folders never change once published, so a file is cached under its snapshot's name
and a new publication is picked up on the next rerun.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from ml.common import warehouse
from ml.common.settings import Paths, paths
from ml.inference import publication
from ml.monitoring import health, report


def home() -> Paths:
    return paths()


def snapshot() -> Path | None:
    return publication.current_snapshot(home())


@st.cache_data(show_spinner=False, max_entries=8)
def _manifest(folder: str) -> dict:
    return json.loads((Path(folder) / "manifest.json").read_text())


def manifest() -> dict | None:
    folder = snapshot()
    return None if folder is None else _manifest(str(folder))


@st.cache_data(show_spinner=False, max_entries=32)
def _frame(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)


def frame(name: str) -> pd.DataFrame | None:
    """A whole (small) published file of the current snapshot, or None if it has none."""
    path = publication.console_file(home(), name)
    return None if path is None else _frame(str(path))


def predictions() -> pd.DataFrame | None:
    """The latest predictions, every customer, as the manifest names their file."""
    current = manifest()
    return None if current is None else frame(current["predictions"]["file"])


@st.cache_data(show_spinner=False, max_entries=64)
def _rows(path: str, customer_id: str) -> pd.DataFrame:
    with warehouse.connect() as con:
        return con.execute(
            "select * from read_parquet(?) where customer_id = ?", [path, customer_id]
        ).df()


def customer_rows(name: str, customer_id: str) -> pd.DataFrame | None:
    """One customer's rows of a per-customer file, read by filter, not whole."""
    path = publication.console_file(home(), name)
    return None if path is None else _rows(str(path), customer_id)


def file(name: str) -> Path | None:
    return publication.console_file(home(), name)


def monitoring() -> dict | None:
    return report.read(home())


def checks(stage: str) -> dict | None:
    return health.read_checks(home(), stage)


def nothing_published() -> bool:
    """Say so and stop the page when no run has published anything yet."""
    if snapshot() is None:
        st.info("Nothing is published yet. Run `make demo` (or `fti demo`) to build the pipeline.")
        return True
    return False


def missing(what: str, why: str) -> None:
    """A page part the data cannot fill: say what and why instead of failing."""
    st.info(f"**{what}**: {why}", icon=":material/info:")


@st.cache_data(show_spinner=False, max_entries=32)
def _csv(path: str) -> pd.DataFrame:
    return pd.read_csv(path)


def frame_csv(name: str) -> pd.DataFrame | None:
    """A published CSV of the current snapshot (the champion's evaluation tables)."""
    path = publication.console_file(home(), name)
    return None if path is None else _csv(str(path))
