"""Every asset key, job and pool name that is not dbt's, defined once and imported.

dbt models' keys come from the translator (``[schema, table]``, the name analysts query) and
are looked up through dagster-dbt (``dbt_key``), never re-typed.
"""

import dagster as dg

# Writers of the DuckDB warehouse share this pool; the instance limits it to one at a time.
WAREHOUSE_POOL = "warehouse"

PIPELINE_JOB = "fti_pipeline"
DAILY_JOB = "daily_update"
TRAINING_JOB = "retrain"

RAW_TRANSACTIONS = dg.AssetKey(["raw", "transactions"])
RAW_CUSTOMERS = dg.AssetKey(["raw", "customers"])
RAW_CUSTOMER_HISTORY = dg.AssetKey(["raw", "customer_history"])
RAW_REJECTED = dg.AssetKey(["raw", "rejected_transactions"])
DAILY_TRANSACTIONS = dg.AssetKey(["raw", "daily_transactions"])

PUBLISHED_FEATURES = dg.AssetKey(["published", "features"])
ONLINE_FEATURE_STORE = dg.AssetKey(["online", "feature_store"])
CHURN_MODEL = dg.AssetKey(["models", "churn_model"])
# Its op, as run config names it (``ops: models__churn_model: config:``).
TRAINING_OP = CHURN_MODEL.to_python_identifier()
PREDICTIONS = dg.AssetKey(["predictions", "churn_predictions"])
PREDICTION_HISTORY = dg.AssetKey(["predictions", "churn_prediction_history"])
DASHBOARD_SNAPSHOT = dg.AssetKey(["published", "dashboard_snapshot"])
ONLINE_PREDICTIONS = dg.AssetKey(["monitoring", "online_predictions"])
FEATURE_DRIFT = dg.AssetKey(["monitoring", "feature_drift"])
MODEL_PERFORMANCE = dg.AssetKey(["monitoring", "model_performance"])
ONLINE_HEALTH = dg.AssetKey(["monitoring", "online_health"])
MONITORING_REPORT = dg.AssetKey(["published", "monitoring_report"])


def relation_key(relation: str) -> dg.AssetKey:
    """The key of a warehouse table named ``schema.table``: the translator's rule for dbt models."""
    return dg.AssetKey(relation.split("."))
