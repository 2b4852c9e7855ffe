"""The online store: the latest feature vector of every entity, for low-latency lookups."""

import dagster as dg

from ml.common.settings import export_environment
from ml.common.warehouse import connect
from ml.features import online_store
from ml.features.views import feature_views, load_manifest
from orchestration.defs.dbt import WAREHOUSE_POOL
from orchestration.defs.quality import PUBLISHED_FEATURES
from orchestration.project import dbt_project


@dg.asset(
    key=["online", "feature_store"],
    deps=[PUBLISHED_FEATURES],
    group_name="serving",
    kinds={"sqlite"},
    pool=WAREHOUSE_POOL,
)
def online_feature_store(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Every feature view's latest row per entity in a SQLite file beside the warehouse,
    swapped in atomically with a watermark (view versions, fingerprints, as-of)."""
    paths = export_environment()
    views = feature_views(load_manifest(dbt_project().manifest_path))
    with connect(paths.warehouse, read_only=True) as con:
        watermark = online_store.materialize(paths, con, views)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(online_store.store_path(paths))),
            "dagster/row_count": sum(int(m["entities"]) for m in watermark.values()),
            "watermark": dg.MetadataValue.json(
                {
                    k: {x: v[x] for x in ("version", "fingerprint", "as_of", "entities")}
                    for k, v in watermark.items()
                }
            ),
        }
    )
