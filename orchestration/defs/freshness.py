"""Freshness checks: the features and the predictions were updated within the last two days.

Evaluated by their sensor while `fti ui` runs (a WARN in the UI when one goes stale); the jobs
leave them out, since a run that just materialized an asset has nothing to learn from them.
"""

import datetime as dt

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.defs.features.dbt_models import dbt_models
from orchestration.lib.keys import PREDICTIONS, PUBLISHED_FEATURES

FRESHNESS_CHECKS = dg.build_last_update_freshness_checks(
    assets=[
        get_asset_key_for_model([dbt_models], "customer_features"),
        PUBLISHED_FEATURES,
        PREDICTIONS,
    ],
    lower_bound_delta=dt.timedelta(days=2),
)

defs = dg.Definitions(asset_checks=FRESHNESS_CHECKS)
