"""The Dagster code location: one asset graph from the raw log to published predictions.

Definitions are loaded from ``orchestration/defs``, one folder per stage of the FTI
architecture (ingestion, features, training, inference, monitoring), plus the resources and
jobs beside them. The dbt manifest is brought up to date first: the dbt assets are built from it.
"""

from pathlib import Path

import dagster as dg

from orchestration.lib.dbt_project import ensure_manifest


@dg.definitions
def defs() -> dg.Definitions:
    ensure_manifest()
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
