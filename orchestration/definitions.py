"""The Dagster code location: one asset graph from the raw log to published predictions."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.defs.dbt import dbt_models
from orchestration.defs.inference import (
    churn_predictions,
    dashboard_snapshot,
    every_customer_scored_once,
)
from orchestration.defs.ingestion import raw_transaction_log
from orchestration.defs.online import online_feature_store
from orchestration.defs.training import churn_model
from orchestration.project import dbt_project

PIPELINE_JOB = "fti_pipeline"

# All writers share one DuckDB file, which takes one writer process at a time: the job runs
# in-process, one step after another, and every writer is also in the `warehouse` pool.
fti_pipeline = dg.define_asset_job(
    PIPELINE_JOB,
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Ingest, build features, fill the online store, train and gate, score, publish.",
)

defs = dg.Definitions(
    assets=[
        raw_transaction_log,
        dbt_models,
        online_feature_store,
        churn_model,
        churn_predictions,
        dashboard_snapshot,
    ],
    asset_checks=[every_customer_scored_once],
    jobs=[fti_pipeline],
    resources={"dbt": DbtCliResource(project_dir=dbt_project())},
)
