"""Batch scoring of the latest feature snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ml.training import predict_proba

# Risk bands are cut-offs on the churn probability, so that "high" means the same thing
# whatever model version produced it.
RISK_BANDS = ((0.6, "high"), (0.3, "medium"), (0.0, "low"))
PREDICTIONS_TABLE = "predictions.churn_predictions"


def risk_band(probability: np.ndarray) -> np.ndarray:
    conditions = [probability >= cut for cut, _ in RISK_BANDS]
    return np.select(conditions, [name for _, name in RISK_BANDS], default="low")


def latest_features(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every customer's features at the latest snapshot date."""
    return con.execute(
        """
        select * from features.customer_features
        where as_of_date = (select max(as_of_date) from features.customer_features)
        order by customer_id
        """
    ).df()


def score(
    model: Pipeline, features: pd.DataFrame, model_name: str, model_version: str
) -> pd.DataFrame:
    probability = predict_proba(model, features)
    return pd.DataFrame(
        {
            "customer_id": features["customer_id"].astype(str).to_numpy(),
            "as_of_date": pd.to_datetime(features["as_of_date"]).dt.date.to_numpy(),
            "churn_probability": np.round(probability, 6),
            "risk_band": risk_band(probability),
            "recency_days": features["recency_days"].astype("int64").to_numpy(),
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
