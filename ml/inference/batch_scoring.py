"""Batch scoring of the latest feature snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ml.common.model_input import ENTITY, predict_proba
from ml.features import on_demand
from ml.features.retrieval import SPINE_TIME, retrieval_sql
from ml.features.views import FeatureView

# Risk bands are cut-offs on the churn probability, so that "high" means the same thing
# whatever model version produced it.
RISK_BANDS = ((0.6, "high"), (0.3, "medium"), (0.0, "low"))
PREDICTIONS_TABLE = "predictions.churn_predictions"
RECENCY = "customer_features__recency_days"  # shown beside scores so users can filter lapsed


def risk_band(probability: np.ndarray) -> np.ndarray:
    conditions = [probability >= cut for cut, _ in RISK_BANDS]
    return np.select(conditions, [name for _, name in RISK_BANDS], default="low")


def latest_features(
    con: duckdb.DuckDBPyConnection, selection: dict[FeatureView, list[str]]
) -> pd.DataFrame:
    """Every customer's features as of the end of the latest snapshot day, through the same
    point-in-time retrieval that built the training set.

    The population is every customer who ever bought (staging.stg_customers), not the
    entities of some view: a customer without attribute history is still scored.
    """
    # The spine stays in DuckDB: through pandas its DATE would become a midnight TIMESTAMP,
    # which sees the snapshot of the day before (a spine DATE means the end of that day).
    # A table, not a view: retrieval reads it twice, and the population is an aggregate over
    # every transaction.
    con.execute(
        f"""
        create or replace temp table _scoring_spine as
        select customer_id as {ENTITY},
               (select max(as_of_date) from features.feature_snapshot_dates) as {SPINE_TIME}
        from staging.stg_customers
        order by 1
        """
    )
    return con.execute(retrieval_sql(con, "_scoring_spine", selection)).df()


def score(
    model: Pipeline, features: pd.DataFrame, model_name: str, model_version: str
) -> pd.DataFrame:
    features = on_demand.add(features, on_demand.end_of_day(features[SPINE_TIME]))
    probability = predict_proba(model, features)
    return pd.DataFrame(
        {
            "customer_id": features[ENTITY].astype(str).to_numpy(),
            "as_of_date": pd.to_datetime(features[SPINE_TIME]).dt.date.to_numpy(),
            "churn_probability": np.round(probability, 6),
            "risk_band": risk_band(probability),
            "recency_days": features[RECENCY].astype("Int64").to_numpy(),
            "model_name": model_name,
            "model_version": str(model_version),
            "scored_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        }
    )


def write_predictions(con: duckdb.DuckDBPyConnection, predictions: pd.DataFrame) -> int:
    """Replace the predictions table in one transaction: readers see the old or the new one."""
    con.register("_predictions", predictions)
    try:
        con.execute("begin transaction")
        con.execute("create schema if not exists predictions")
        con.execute(
            f"""
            create or replace table {PREDICTIONS_TABLE} as
            select
                cast(customer_id as varchar) as customer_id,
                cast(as_of_date as date) as as_of_date,
                cast(churn_probability as double) as churn_probability,
                cast(risk_band as varchar) as risk_band,
                cast(recency_days as integer) as recency_days,
                cast(model_name as varchar) as model_name,
                cast(model_version as varchar) as model_version,
                cast(scored_at as timestamp) as scored_at
            from _predictions
            """
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_predictions")
    return con.execute(f"select count(*) from {PREDICTIONS_TABLE}").fetchone()[0]
