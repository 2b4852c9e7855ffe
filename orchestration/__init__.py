"""Dagster wiring: dbt feature models, training, batch scoring and publication as one asset graph."""
