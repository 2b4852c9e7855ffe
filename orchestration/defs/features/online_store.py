"""The online store: the latest feature vector of every entity, for low-latency lookups."""

import dagster as dg

from ml.features import online_store
from ml.features.dbt_manifest import load_manifest
from ml.features.views import feature_views
from orchestration.lib.dbt_project import dbt_project
from orchestration.lib.keys import ONLINE_FEATURE_STORE, PUBLISHED_FEATURES, WAREHOUSE_POOL
from orchestration.lib.resources import FtiHome, Warehouse


@dg.asset(
    key=ONLINE_FEATURE_STORE,
    deps=[PUBLISHED_FEATURES],
    group_name="serving",
    kinds={"sqlite"},
    pool=WAREHOUSE_POOL,
)
def online_feature_store(
    context: dg.AssetExecutionContext, fti_home: FtiHome, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Every feature view's latest row per entity in a SQLite file beside the warehouse,
    swapped in atomically with a watermark (view versions, fingerprints, as-of)."""
    paths = fti_home.paths
    views = feature_views(load_manifest(dbt_project().manifest_path))
    with warehouse.connect(read_only=True) as con:
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
