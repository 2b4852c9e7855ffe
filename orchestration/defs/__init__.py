"""Dagster definitions, one folder per stage of the FTI architecture; loaded by
``orchestration/definitions.py`` with ``dg.load_from_defs_folder``."""
