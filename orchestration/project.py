"""The dbt project as Dagster sees it, and how its manifest is prepared.

Nothing here runs at import time: the CLI and the tests call ``prepare()`` before loading
definitions, and ``dagster dev`` re-parses through ``prepare_if_dev``.
"""

from __future__ import annotations

import functools

from dagster_dbt import DbtProject

from ml.common.settings import DBT_PROJECT_DIR, export_environment

# Job names, here so the CLI can name them without loading the definitions.
PIPELINE_JOB = "fti_pipeline"
DAILY_JOB = "daily_update"


@functools.cache
def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare() -> DbtProject:
    """Write ``target/manifest.json`` with ``dbt parse`` (about 3 s)."""
    export_environment()
    project = dbt_project()
    project.preparer.prepare(project)
    return project


def ensure_manifest() -> DbtProject:
    """Re-parse only when a dbt source file is newer than the manifest."""
    project = dbt_project()
    manifest = project.manifest_path
    if manifest.exists():
        built = manifest.stat().st_mtime
        sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
        for folder in ("models", "macros", "tests", "snapshots"):
            sources.extend((DBT_PROJECT_DIR / folder).rglob("*"))
        if all(p.stat().st_mtime <= built for p in sources if p.is_file()):
            return project
    return prepare()
