"""Where a model came from, beyond its feature views: the code and the dbt project it saw."""

from __future__ import annotations

import hashlib
import json
import subprocess

from ml.common.settings import REPO_ROOT


def code_commit() -> str:
    """The git commit of the code, ``+dirty`` when the working tree has changes; ``unknown``
    outside a git checkout (say, an installed package)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def manifest_checksum(manifest: dict) -> str:
    """A hash of every dbt node's and source's checksum: the same project gives the same value
    whatever the parse time (the manifest file itself embeds timestamps and ids)."""
    nodes = {**manifest.get("nodes", {}), **manifest.get("sources", {})}
    checksums = sorted(
        (uid, (node.get("checksum") or {}).get("checksum", "")) for uid, node in nodes.items()
    )
    return hashlib.sha256(json.dumps(checksums).encode()).hexdigest()[:16]
