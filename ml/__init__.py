"""Plain-Python core of the FTI system: data, training, registry and scoring, no Dagster imports."""
