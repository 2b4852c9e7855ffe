"""The online service's health and skew, and the monitoring report everything else reads."""

import dagster as dg

from ml.monitoring import online_health, report
from orchestration.defs.monitoring.model_monitoring import holdout_roc_auc
from orchestration.lib.keys import (
    FEATURE_DRIFT,
    MODEL_PERFORMANCE,
    MONITORING_REPORT,
    ONLINE_HEALTH,
    ONLINE_PREDICTIONS,
    PREDICTION_HISTORY,
    WAREHOUSE_POOL,
)
from orchestration.lib.resources import FtiHome, ModelRegistry, Warehouse

# An online p99 above this, an error rate above this, or any feature whose online value
# differs from the offline one for more than this share of requests is worth a look.
P99_MS_WARN = 100.0
ERROR_RATE_WARN = 0.05
SKEW_WARN = 0.01


@dg.asset(
    key=ONLINE_HEALTH,
    deps=[ONLINE_PREDICTIONS, PREDICTION_HISTORY],
    group_name="monitoring",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "online_service_healthy",
            asset=ONLINE_HEALTH,
            description=f"p99 latency under {P99_MS_WARN:.0f} ms and refusals under "
            f"{ERROR_RATE_WARN:.0%} of requests.",
        ),
        dg.AssetCheckSpec(
            "online_matches_offline",
            asset=ONLINE_HEALTH,
            description="Every feature the API served equals the offline feature of the same "
            f"customer as of the same snapshot for at least {1 - SKEW_WARN:.0%} of requests.",
        ),
    ],
)
def online_health_asset(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Requests, latency percentiles and refusals of the online API, from its logs; and
    online/offline skew per feature (compared when the logs were loaded) with the
    online-batch probability gap."""
    with warehouse.connect() as con:
        online_health.ensure_table(con)
        health = online_health.service(con)
        skew = online_health.skew(con)
        health["skew"] = skew
        health["variants"] = online_health.variants(con)
        report.record_online(con, health)
    slow = health["p99_ms"] is not None and health["p99_ms"] > P99_MS_WARN
    failing = (health["error_rate"] or 0.0) > ERROR_RATE_WARN
    skewed = {f: s for f, s in skew["features"].items() if s > SKEW_WARN}
    return dg.MaterializeResult(
        metadata={
            "requests": health["requests"],
            "p50_ms": health["p50_ms"],
            "p99_ms": health["p99_ms"],
            "errors": dg.MetadataValue.json(health["errors"]),
            "skew": dg.MetadataValue.json(skew),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="online_service_healthy",
                passed=not (slow or failing),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"p99_ms": health["p99_ms"], "error_rate": health["error_rate"]},
            ),
            dg.AssetCheckResult(
                check_name="online_matches_offline",
                passed=not skewed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"skewed_features": dg.MetadataValue.json(skewed)},
            ),
        ],
    )


@dg.asset(
    key=MONITORING_REPORT,
    deps=[FEATURE_DRIFT, MODEL_PERFORMANCE, ONLINE_HEALTH],
    group_name="monitoring",
    kinds={"json"},
    pool=WAREHOUSE_POOL,
)
def monitoring_report(
    context: dg.AssetExecutionContext,
    fti_home: FtiHome,
    warehouse: Warehouse,
    registry: ModelRegistry,
) -> dg.MaterializeResult:
    """The report `fti monitor`, `fti status`, the dashboard and the retraining sensor read:
    drift, realized and estimated performance, online health; and the retraining request,
    raised here when drift or realized performance crosses its threshold."""
    holdout = holdout_roc_auc(registry)
    with warehouse.connect() as con:
        request = report.update_requests(con, holdout)
        built = report.build(con, report.read_online(con), request)
    report.publish(fti_home.paths, built)
    if request:
        context.log.warning(f"retraining requested: {request['reason']}")
    return dg.MaterializeResult(
        metadata={
            "retraining_requested": request is not None,
            "reason": (request or {}).get("reason") or "",
            "drift_rows": len(built["drift"]),
            "realized_dates": len(built["realized"]),
            "path": str(fti_home.paths.published / report.REPORT_FILE),
        }
    )
