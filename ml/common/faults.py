"""Stall points: where the crash-safety tests stop a real run to kill it.

Each sits at the most dangerous moment of a stage (new data written, not yet swapped in). With
``FTI_STALL_AT=<name>`` the process writes ``FTI_STALL_MARKER`` and waits there until it is
killed; without it a stall point costs one dictionary lookup. Nothing else reads these
variables.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

POINTS = (
    "dbt",  # dbt is building models in the warehouse
    "publish_features",  # the new features database is written, not yet swapped in
    "online_store",  # the new online store is written, not yet swapped in
    "registry",  # a model version is registered, the champion alias not yet moved
    "scoring",  # predictions are written to the warehouse, not yet published
    "publish_snapshot",  # the dashboard snapshot is written, its pointer not yet replaced
)


def stall_point(name: str) -> None:
    if os.environ.get("FTI_STALL_AT") != name:
        return
    marker = os.environ.get("FTI_STALL_MARKER")
    if marker:
        Path(marker).write_text(f"{name} {os.getpid()}\n")
    while True:
        time.sleep(1)
