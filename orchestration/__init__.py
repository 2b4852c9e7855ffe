"""Dagster wiring: dbt features, training, batch scoring and publication as one asset graph."""
