"""What the dashboard and `fti status` read: predictions, table statistics and each page's
data, published."""

import tempfile
from pathlib import Path

import dagster as dg

from ml.features.dbt_manifest import project_vars
from ml.inference import console_data, publication
from ml.registry import model_registry
from orchestration.lib.keys import DASHBOARD_SNAPSHOT, PREDICTIONS, WAREHOUSE_POOL
from orchestration.lib.resources import FtiHome, ModelRegistry, Warehouse


def _scoring_version(con) -> str | None:
    row = con.execute(
        "select any_value(model_version) from predictions.churn_predictions"
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


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
    """Predictions, table statistics and each dashboard page's data (trends, customer
    histories, each input's share of each score, registry versions and the champion's
    evaluation) copied to Parquet/JSON, so readers never open the warehouse a run may be
    holding nor load a model."""
    client = registry.client()
    champion = model_registry.champion_summary(client)
    with tempfile.TemporaryDirectory() as scratch, warehouse.connect() as con:
        version = _scoring_version(con)
        evaluation = (
            model_registry.evaluation_artifacts(client, champion["run_id"], Path(scratch))
            if champion
            else None
        )
        view = console_data.RegistryView(
            model=model_registry.load_version(client, version) if version else None,
            versions=model_registry.list_versions(client),
            moves=model_registry.champion_moves(client),
            evaluation=evaluation,
        )
        manifest = publication.publish_snapshot(
            fti_home.paths,
            con,
            champion,
            run_id=context.run_id,
            registry=view,
            active_days=int(project_vars()["active_window_days"]),
        )
    console = manifest["console"]
    return dg.MaterializeResult(
        metadata={
            "snapshot": manifest["snapshot"],
            "predictions": manifest["predictions"]["rows"],
            "tables": dg.MetadataValue.json(manifest["tables"]),
            "dashboard_files": dg.MetadataValue.json(console["files"]),
            "explained_by": (console["contributions"] or {}).get("unit", "nothing scored"),
        }
    )
