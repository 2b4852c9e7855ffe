"""The two ways the graph runs: the whole pipeline once, or a day (or range of days) landed.

All writers share one DuckDB file, which takes one writer process at a time: jobs run
in-process, one step after another, and every writer is also in the warehouse pool.
"""

import dagster as dg

from orchestration.defs.freshness import FRESHNESS_CHECKS
from orchestration.defs.ingestion.daily import DAILY
from orchestration.lib.keys import (
    CHURN_MODEL,
    DAILY_JOB,
    DAILY_TRANSACTIONS,
    PIPELINE_JOB,
    RAW_CUSTOMER_HISTORY,
    RAW_CUSTOMERS,
    RAW_REJECTED,
    RAW_TRANSACTIONS,
    TRAINING_JOB,
)

_FULL_LOAD = dg.AssetSelection.assets(
    RAW_TRANSACTIONS, RAW_CUSTOMERS, RAW_CUSTOMER_HISTORY, RAW_REJECTED
)

_TRAINING = dg.AssetSelection.assets(CHURN_MODEL)
# Freshness is judged by its sensor over time, not by the run that just updated the asset.
_FRESHNESS = dg.AssetSelection.checks(*FRESHNESS_CHECKS)

fti_pipeline = dg.define_asset_job(
    PIPELINE_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(DAILY_TRANSACTIONS) - _FRESHNESS,
    executor_def=dg.in_process_executor,
    description="Ingest, build features, fill the online store, train and gate, score, publish.",
)

# A run per landed day (or a backfill of a range of days, as one run): the day's rows are
# appended, dbt rebuilds from that day, and the rest of the graph follows except training,
# which has its own job (weekly, or when monitoring asks for it).
daily_update = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.all() - _FULL_LOAD - _TRAINING - _FRESHNESS,
    executor_def=dg.in_process_executor,
    partitions_def=DAILY,
    description="Append the landed files of the run's days; rebuild features incrementally; "
    "score with the serving model; monitor.",
)

retrain = dg.define_asset_job(
    TRAINING_JOB,
    selection=_TRAINING.downstream() - _FRESHNESS,
    executor_def=dg.in_process_executor,
    description="Train a new version on the current training set (the gate decides whether "
    "it serves), then score and monitor with whichever version serves.",
)
