"""The Dagster code location: one asset graph from the raw log to published predictions."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

from orchestration.defs.daily import DAILY, daily_transactions
from orchestration.defs.dbt import FtiDbtCliResource, dbt_models
from orchestration.defs.inference import (
    churn_predictions,
    dashboard_snapshot,
    every_customer_scored_once,
)
from orchestration.defs.ingestion import raw_transaction_log
from orchestration.defs.monitoring import online_predictions
from orchestration.defs.online import online_feature_store
from orchestration.defs.quality import published_features
from orchestration.defs.training import churn_model
from orchestration.project import DAILY_JOB, PIPELINE_JOB, dbt_project

# All writers share one DuckDB file, which takes one writer process at a time: the job runs
# in-process, one step after another, and every writer is also in the `warehouse` pool.
fti_pipeline = dg.define_asset_job(
    PIPELINE_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(daily_transactions),
    executor_def=dg.in_process_executor,
    description="Ingest, build features, fill the online store, train and gate, score, publish.",
)

# A run per landed day (or a backfill of a range of days, as one run): the day's rows are
# appended, dbt rebuilds from that day, and the rest of the graph follows.
daily_update = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(raw_transaction_log),
    executor_def=dg.in_process_executor,
    partitions_def=DAILY,
    description="Append the landed files of the run's days; rebuild features incrementally.",
)

defs = dg.Definitions(
    assets=[
        raw_transaction_log,
        daily_transactions,
        dbt_models,
        published_features,
        online_feature_store,
        churn_model,
        churn_predictions,
        dashboard_snapshot,
        online_predictions,
    ],
    asset_checks=[every_customer_scored_once],
    jobs=[fti_pipeline, daily_update],
    # The dbt installed beside this Python, whatever PATH says.
    resources={
        "dbt": FtiDbtCliResource(
            project_dir=dbt_project(), dbt_executable=str(Path(sys.executable).parent / "dbt")
        )
    },
)
