"""What the dashboard and `fti status` read: predictions and table statistics, published."""

import dagster as dg

from ml.inference import publication
from ml.registry import model_registry
from orchestration.lib.keys import DASHBOARD_SNAPSHOT, PREDICTIONS, WAREHOUSE_POOL
from orchestration.lib.resources import FtiHome, ModelRegistry, Warehouse


@dg.asset(
    key=DASHBOARD_SNAPSHOT,
    deps=[PREDICTIONS],
    group_name="inference",
    kinds={"parquet"},
    pool=WAREHOUSE_POOL,
)
def dashboard_snapshot(
    context: dg.AssetExecutionContext,
    fti_home: FtiHome,
    warehouse: Warehouse,
    registry: ModelRegistry,
) -> dg.MaterializeResult:
    """Predictions and table statistics copied to Parquet/JSON for the dashboard and `fti
    status`, so readers never open the warehouse a run may be holding."""
    champion = model_registry.champion_summary(registry.client())
    with warehouse.connect() as con:
        manifest = publication.publish_snapshot(
            fti_home.paths, con, champion, run_id=context.run_id
        )
    return dg.MaterializeResult(
        metadata={
            "snapshot": manifest["snapshot"],
            "predictions": manifest["predictions"]["rows"],
            "tables": dg.MetadataValue.json(manifest["tables"]),
        }
    )
