"""Monitoring of the batch model: drift at each scoring date, and how past predictions turned
out. Both are computed in the warehouse and kept there as history; their checks show in the
UI as warnings or errors."""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from ml.features.dbt_manifest import project_vars
from ml.inference.batch_scoring import SCORED_INPUTS_TABLE
from ml.monitoring import drift, performance, report
from ml.registry import model_registry
from orchestration.defs.features.dbt_models import dbt_models
from orchestration.lib.keys import (
    FEATURE_DRIFT,
    MODEL_PERFORMANCE,
    PREDICTION_HISTORY,
    PREDICTIONS,
    WAREHOUSE_POOL,
)
from orchestration.lib.resources import ModelRegistry, Warehouse

_SEVERITY = {"warn": dg.AssetCheckSeverity.WARN, "alert": dg.AssetCheckSeverity.ERROR}


@dg.asset(
    key=FEATURE_DRIFT,
    deps=[PREDICTIONS],
    group_name="monitoring",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "no_drift",
            asset=FEATURE_DRIFT,
            description="No input feature and not the scores drifted from the serving model's "
            "training reference (PSI < 0.1 and null rate up < 0.05; warning below PSI 0.25).",
        )
    ],
)
def feature_drift(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """PSI, Jensen-Shannon distance, KS statistic and null-rate change of every model input
    and of the scores at the latest scoring date (customers in the active window, the
    population the model was trained on), against the reference profile frozen with the
    model version that scored them."""
    with warehouse.connect() as con:
        version, as_of = con.execute(
            f"select any_value(model_version), max(as_of_date) from {SCORED_INPUTS_TABLE}"
        ).fetchone()
        reference = drift.load_reference(con, version)
        if not reference:
            context.log.warning(f"churn v{version} has no reference profile: retrain to get one")
            measured = drift.measure(con, SCORED_INPUTS_TABLE, {})
        else:
            measured = drift.measure(con, SCORED_INPUTS_TABLE, reference, where="active")
            report.record_drift(con, measured, as_of, version)
    worst = max(measured["status"], key=drift.STATUS_RANK.get, default="ok")
    flagged = measured[measured["status"] != "ok"]
    return dg.MaterializeResult(
        metadata={
            "as_of_date": str(as_of),
            "model_version": str(version),
            "features_measured": len(measured),
            "alerts": int((measured["status"] == "alert").sum()),
            "warnings": int((measured["status"] == "warn").sum()),
            "drift": dg.MetadataValue.md(
                measured.round(4).to_markdown(index=False) if len(measured) else "no reference"
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="no_drift",
                passed=worst == "ok",
                severity=_SEVERITY.get(worst, dg.AssetCheckSeverity.WARN),
                metadata={
                    "status": worst,
                    "flagged": dg.MetadataValue.json(
                        {
                            f: round(float(p), 4)
                            for f, p in zip(flagged["feature"], flagged["psi"], strict=True)
                        }
                    ),
                },
            )
        ],
    )


def holdout_roc_auc(registry: ModelRegistry) -> dict[str, float]:
    """Each registered version's holdout ROC AUC, what realized performance is held to."""
    return {
        v["version"]: v["metrics"]["roc_auc"]
        for v in model_registry.list_versions(registry.client())
        if "roc_auc" in v["metrics"]
    }


@dg.asset(
    key=MODEL_PERFORMANCE,
    deps=[PREDICTION_HISTORY, get_asset_key_for_model([dbt_models], "int_customer_daily")],
    group_name="monitoring",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "realized_performance_holds",
            asset=MODEL_PERFORMANCE,
            description="The latest realized ROC AUC (active customers) is within "
            f"{report.PERFORMANCE_TOLERANCE} of the scoring version's holdout ROC AUC.",
        )
    ],
)
def model_performance(
    context: dg.AssetExecutionContext, warehouse: Warehouse, registry: ModelRegistry
) -> dg.MaterializeResult:
    """Realized ROC AUC, PR AUC, top-decile precision/recall and Brier score of each scoring
    date whose churn horizon has passed, per model version; and, for the dates still waiting
    for their labels, the estimate from the probabilities (with its error where labels came)."""
    variables = project_vars()
    horizon, active = int(variables["churn_horizon_days"]), int(variables["active_window_days"])
    holdout = holdout_roc_auc(registry)
    with warehouse.connect() as con:
        realized = performance.realized(con, horizon, active)
        estimated = performance.estimated(con, horizon, active)
        report.replace_table(con, report.REALIZED_TABLE, realized)
        report.replace_table(con, report.ESTIMATED_TABLE, estimated)
    latest = realized.iloc[-1] if len(realized) else None
    reason = (
        None
        if latest is None
        else report.performance_trigger(latest, holdout.get(str(latest["model_version"])))
    )
    metadata = {
        "realized_dates": len(realized),
        "estimated_dates": len(estimated),
        "realized": dg.MetadataValue.md(
            realized.round(4).to_markdown(index=False) if len(realized) else "none yet"
        ),
    }
    if latest is not None:
        metadata["latest_realized_roc_auc"] = float(latest["roc_auc"])
        metadata["latest_realized_as_of"] = str(latest["as_of_date"])
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="realized_performance_holds",
                passed=reason is None,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"detail": reason or "within tolerance (or no labels yet)"},
            )
        ],
    )
