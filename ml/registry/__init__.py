"""The model registry (MLflow): versions, aliases, promotion and rollback, provenance."""
