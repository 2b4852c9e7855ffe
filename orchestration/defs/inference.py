"""Batch inference: score every customer's latest snapshot with the champion, then publish."""

import dagster as dg

from ml.common.faults import stall_point
from ml.common.settings import MODEL_NAME, export_environment
from ml.common.warehouse import connect
from ml.features.views import (
    FeatureViewError,
    feature_views,
    load_manifest,
    required_views,
    serving_selection,
)
from ml.inference import batch_scoring, publication
from ml.registry import model_registry
from orchestration.defs.dbt import WAREHOUSE_POOL
from orchestration.defs.quality import PUBLISHED_FEATURES
from orchestration.project import dbt_project

CUSTOMER_FEATURES = dg.AssetKey(["features", "customer_features"])
CHURN_MODEL = dg.AssetKey(["models", "churn_model"])
PREDICTIONS = dg.AssetKey(["predictions", "churn_predictions"])


@dg.asset(
    key=PREDICTIONS,
    deps=[CUSTOMER_FEATURES, PUBLISHED_FEATURES, CHURN_MODEL],
    group_name="inference",
    kinds={"duckdb", "scikitlearn"},
    pool=WAREHOUSE_POOL,
)
def churn_predictions(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Churn probability and risk band of every customer at the latest snapshot, scored by
    `models:/churn@champion`."""
    paths = export_environment()
    client = model_registry.configure(paths)
    version = model_registry.champion_version(client)
    if version is None:
        latest = model_registry.list_versions(client)[:1]
        if not latest:
            raise dg.Failure("no model is registered: materialize models/churn_model first")
        rejected = latest[0]
        raise dg.Failure(
            f"no champion: the gate did not promote churn v{rejected['version']} "
            f"({rejected['gate_reason']}). `fti model list` shows every version; "
            f"`fti model promote {rejected['version']} --force` serves it anyway."
        )
    tags = client.get_model_version(MODEL_NAME, version).tags
    try:
        selection = serving_selection(
            required_views(tags), feature_views(load_manifest(dbt_project().manifest_path))
        )
    except FeatureViewError as exc:
        raise dg.Failure(f"champion churn v{version} cannot be served: {exc}") from exc
    model = model_registry.load_version(client, version)
    with connect(paths.warehouse) as con:
        features = batch_scoring.latest_features(con, selection)
        predictions = batch_scoring.score(model, features, MODEL_NAME, version)
        rows = batch_scoring.write_predictions(con, predictions)
    stall_point("scoring")
    bands = predictions["risk_band"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "model_version": version,
            "as_of_date": str(predictions["as_of_date"].max()),
            "mean_churn_probability": float(predictions["churn_probability"].mean()),
            **{f"risk_{band}": int(bands.get(band, 0)) for band in ("high", "medium", "low")},
        }
    )


@dg.asset_check(asset=PREDICTIONS, blocking=True)
def every_customer_scored_once() -> dg.AssetCheckResult:
    """Each customer in the features has exactly one prediction, with a probability in [0, 1]."""
    paths = export_environment()
    with connect(paths.warehouse) as con:
        customers, predicted, distinct, out_of_range = con.execute(
            f"""
            select
                (select count(distinct customer_id) from features.customer_features),
                count(*),
                count(distinct customer_id),
                count(*) filter (where not churn_probability between 0 and 1)
            from {batch_scoring.PREDICTIONS_TABLE}
            """
        ).fetchone()
    return dg.AssetCheckResult(
        passed=customers == predicted == distinct and out_of_range == 0,
        metadata={
            "customers": customers,
            "predictions": predicted,
            "distinct_customers": distinct,
            "out_of_range": out_of_range,
        },
    )


@dg.asset(
    key=["published", "dashboard_snapshot"],
    deps=[PREDICTIONS],
    group_name="inference",
    kinds={"parquet"},
    pool=WAREHOUSE_POOL,
)
def dashboard_snapshot(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Predictions and table statistics copied to Parquet/JSON for the dashboard and `fti
    status`, so readers never open the warehouse a run may be holding."""
    paths = export_environment()
    champion = model_registry.champion_summary(model_registry.configure(paths))
    with connect(paths.warehouse) as con:
        manifest = publication.publish_snapshot(paths, con, champion, run_id=context.run_id)
    return dg.MaterializeResult(
        metadata={
            "snapshot": manifest["snapshot"],
            "predictions": manifest["predictions"]["rows"],
            "tables": dg.MetadataValue.json(manifest["tables"]),
        }
    )
