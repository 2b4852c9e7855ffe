"""Files replaced whole: written beside the target under a temporary name, then renamed over
it (``os.replace``), so a reader opens the old file or the new one, never half of one.

A writer killed between the two steps leaves its temporary file behind. Writers of the same
target are serialized (the warehouse pool), so the next one removes what a dead predecessor
left before it starts.
"""

from __future__ import annotations

import uuid
from pathlib import Path


def temporary(target: Path) -> Path:
    """A fresh temporary path beside ``target``, after sweeping earlier writers' leftovers."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for orphan in target.parent.glob(f".{target.name}.*"):
        orphan.unlink(missing_ok=True)
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}")
