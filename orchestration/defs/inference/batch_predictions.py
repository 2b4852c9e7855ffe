"""Batch inference: score every customer's latest snapshot with the champion."""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from ml import engines
from ml.common.faults import stall_point
from ml.common.settings import MODEL_NAME
from ml.engines import spark_jobs
from ml.features.dbt_manifest import load_manifest
from ml.features.views import FeatureViewError, feature_views, required_views, serving_selection
from ml.inference import batch_scoring
from ml.registry import model_registry
from orchestration.defs.features.dbt_models import dbt_models
from orchestration.lib.dbt_project import dbt_project
from orchestration.lib.keys import (
    CHURN_MODEL,
    PREDICTION_HISTORY,
    PREDICTIONS,
    PUBLISHED_FEATURES,
    WAREHOUSE_POOL,
)
from orchestration.lib.resources import FtiHome, ModelRegistry, Warehouse


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            PREDICTIONS,
            deps=[
                get_asset_key_for_model([dbt_models], "customer_features"),
                PUBLISHED_FEATURES,
                CHURN_MODEL,
            ],
            description="Churn probability and risk band of every customer at the latest "
            "snapshot, scored by `models:/churn@champion`.",
            kinds={"duckdb", "scikitlearn"},
        ),
        dg.AssetSpec(
            PREDICTION_HISTORY,
            deps=[PREDICTIONS],
            description="Every scoring kept: one row per customer, scoring date and model "
            "version (scoring a date again with the same version replaces its rows).",
            kinds={"duckdb"},
        ),
    ],
    name="predictions__churn_predictions",  # the step shows as predictions/churn_predictions
    group_name="inference",
    pool=WAREHOUSE_POOL,
)
def churn_predictions(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    registry: ModelRegistry,
    fti_home: FtiHome,
):
    """Score every customer with the champion; the latest table and the history are written
    in one transaction, with the scored inputs drift is measured on."""
    client = registry.client()
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
    paths = fti_home.paths
    if engines.current(paths) == "spark":
        # Scored inside Spark by the same function; published here like the DuckDB engine's.
        job = spark_jobs.run("score", paths, "--version", str(version))
        with warehouse.connect() as con:
            batch_scoring.write_predictions_from_parquet(con, f"{job['folder']}/*.parquet")
    else:
        model = model_registry.load_version(client, version)
        with warehouse.connect() as con:
            features = batch_scoring.latest_features(con, selection)
            scored = batch_scoring.score(model, features, MODEL_NAME, version)
            batch_scoring.write_predictions(con, scored)
    with warehouse.connect(read_only=True) as con:
        rows, as_of, mean, high, medium, low = con.execute(
            f"""
            select count(*), max(as_of_date), avg(churn_probability),
                   count(*) filter (where risk_band = 'high'),
                   count(*) filter (where risk_band = 'medium'),
                   count(*) filter (where risk_band = 'low')
            from {batch_scoring.PREDICTIONS_TABLE}
            """
        ).fetchall()[0]
        history_rows, history_dates = con.execute(
            f"select count(*), count(distinct as_of_date) from {batch_scoring.HISTORY_TABLE}"
        ).fetchall()[0]
    stall_point("scoring")
    yield dg.MaterializeResult(
        asset_key=PREDICTIONS,
        metadata={
            "dagster/row_count": rows,
            "model_version": version,
            "as_of_date": str(as_of),
            "mean_churn_probability": float(mean),
            "risk_high": high,
            "risk_medium": medium,
            "risk_low": low,
            "engine": engines.current(paths),
        },
    )
    yield dg.MaterializeResult(
        asset_key=PREDICTION_HISTORY,
        metadata={"dagster/row_count": history_rows, "scoring_dates": history_dates},
    )


@dg.asset_check(asset=PREDICTIONS, blocking=True)
def every_customer_scored_once(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Each customer in the features has exactly one prediction, with a probability in [0, 1]."""
    with warehouse.connect() as con:
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
