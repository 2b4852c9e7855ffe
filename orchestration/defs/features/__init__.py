"""The feature pipeline: dbt models and tests, the quality gate, the online store."""
