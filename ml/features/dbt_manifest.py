"""The dbt project as the feature store reads it: its manifest and its vars.

Parsing is kept apart from what is built from it (feature views, in ``views``), so the
mapping can be tested against a manifest without a dbt project on disk.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import yaml

from ml.common.errors import NotReady
from ml.common.settings import DBT_PARSE_DIR, DBT_PROJECT_DIR


class ManifestMissing(NotReady):
    """dbt has not parsed the project yet."""


def manifest_path() -> Path:
    return DBT_PARSE_DIR / "manifest.json"


def load_manifest(path: Path | None = None) -> dict:
    path = path or manifest_path()
    if not path.exists():
        raise ManifestMissing(f"no dbt manifest at {path}: run `dbt parse` (fti does it for you)")
    return json.loads(path.read_text())


VAR_REFERENCE = re.compile(r"""\bvar\(\s*['"](\w+)['"]""")


@cache
def project_vars() -> dict[str, object]:
    """The vars as dbt_project.yml sets them (the values every fti run uses)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return dict(project.get("vars") or {})
