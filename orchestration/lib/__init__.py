"""What the Dagster definitions are built from: asset keys, resources, the dbt project and its
translator, training's config. No assets here; they live in ``orchestration/defs``."""
