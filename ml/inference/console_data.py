"""What each dashboard page reads, written into a published snapshot beside the predictions.

The dashboard never opens the warehouse (a run may hold it) nor loads a model; everything it
shows beyond the predictions is prepared here, in the run, as small Parquet and JSON files:
trends over the prediction history, each customer's monthly activity, prediction history and
the share each input had in their score, the registry's versions and the champion's moves,
the champion's evaluation artifacts, and rejected input rows by day and reason.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ml.common.warehouse import table_exists
from ml.inference.batch_scoring import HISTORY_TABLE, SCORED_INPUTS_TABLE
from ml.inference.contributions import explain, population_mean

TREND = "prediction_trend.parquet"
HISTORY = "prediction_history.parquet"
ACTIVITY = "customer_activity.parquet"
ATTRIBUTES = "customer_attributes.parquet"
CONTRIBUTIONS = "contributions.parquet"
REJECTED_DAILY = "rejected_daily.parquet"
REJECTED_EXAMPLES = "rejected_examples.parquet"
REGISTRY = "registry.json"
EVALUATION = "evaluation"
EXAMPLES_PER_REASON = 5
# Files the champion's evaluation run logged under `evaluation/` that the Model page shows.
EVALUATION_FILES = (
    "roc_pr_curves.png",
    "calibration_curve.png",
    "calibration_curve.csv",
    "lift_gains.csv",
    "slices.csv",
    "permutation_importance.csv",
    "confusion_matrix.json",
    "model_selection.csv",
)


@dataclass(frozen=True)
class RegistryView:
    """What the run read from the registry for the Model and Customer pages."""

    model: object | None = None  # the fitted pipeline that scored the latest predictions
    versions: list[dict[str, object]] = field(default_factory=list)
    moves: list[dict[str, str]] = field(default_factory=list)
    evaluation: Path | None = None  # the champion's logged `evaluation/` folder


def write(
    con: duckdb.DuckDBPyConnection, folder: Path, registry: RegistryView, active_days: int
) -> dict[str, object]:
    """Every page's files into ``folder``; returns what the manifest records of them."""
    files = write_tables(con, folder, active_days)
    write_registry(folder, registry.versions, registry.moves, registry.evaluation)
    return {
        "files": files,
        "contributions": write_contributions(con, folder, registry.model),
        "active_days": active_days,
    }


def _copy(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> int:
    con.execute(f"copy ({query}) to '{target}' (format parquet)")
    return con.execute(f"select count(*) from read_parquet('{target}')").fetchall()[0][0]


def write_tables(con: duckdb.DuckDBPyConnection, folder: Path, active_days: int) -> dict:
    """The warehouse-derived files; a table the data never produced is simply left out (a
    user's own log has no customer attributes), and the page says what is missing."""
    written: dict[str, int] = {}
    if table_exists(con, HISTORY_TABLE):
        written[TREND] = _copy(
            con,
            f"""
            select as_of_date, model_version, population,
                   count(*) as customers,
                   avg(churn_probability) as mean_probability,
                   sum(churn_probability) as expected_churners,
                   count(*) filter (where risk_band = 'high') as high,
                   count(*) filter (where risk_band = 'medium') as medium,
                   count(*) filter (where risk_band = 'low') as low
            from (
                select *, 'all' as population from {HISTORY_TABLE}
                union all
                select *, 'active' from {HISTORY_TABLE} where recency_days <= {active_days}
            )
            group by all order by as_of_date, model_version, population
            """,
            folder / TREND,
        )
        written[HISTORY] = _copy(
            con,
            f"select customer_id, as_of_date, churn_probability, risk_band, model_version "
            f"from {HISTORY_TABLE} order by customer_id, as_of_date, model_version",
            folder / HISTORY,
        )
    if table_exists(con, "features.int_customer_daily"):
        written[ACTIVITY] = _copy(
            con,
            """
            select customer_id, date_trunc('month', activity_date)::date as month,
                   sum(transactions)::bigint as purchases, sum(spend)::double as spend
            from features.int_customer_daily group by all order by customer_id, month
            """,
            folder / ACTIVITY,
        )
    if table_exists(con, "features.customer_attributes"):
        written[ATTRIBUTES] = _copy(
            con,
            "select customer_id, country, segment, valid_from "
            "from features.customer_attributes where valid_to is null order by customer_id",
            folder / ATTRIBUTES,
        )
    if table_exists(con, "raw.rejected_transactions"):
        written[REJECTED_DAILY] = _copy(
            con,
            "select rejected_at::date as day, reject_reason, count(*) as rows "
            "from raw.rejected_transactions group by all order by day, reject_reason",
            folder / REJECTED_DAILY,
        )
        written[REJECTED_EXAMPLES] = _copy(
            con,
            f"""
            select reject_reason, source, source_row, customer_id, transaction_ts, amount,
                   rejected_at
            from raw.rejected_transactions
            qualify row_number() over (
                partition by reject_reason order by rejected_at desc, source_row
            ) <= {EXAMPLES_PER_REASON}
            order by reject_reason, rejected_at desc, source_row
            """,
            folder / REJECTED_EXAMPLES,
        )
    return written


def write_contributions(
    con: duckdb.DuckDBPyConnection, folder: Path, model, batch_customers: int = 100_000
) -> dict | None:
    """Each scored customer's inputs and their shares of the score, one row per input, by the
    model that scored them (``monitoring.scored_inputs`` keeps what it read).

    A batch of ``batch_customers`` at a time, in customer order, appended to one Parquet file:
    the long form of every customer at once took 10 GB for 2.7M customers."""
    if model is None or not table_exists(con, SCORED_INPUTS_TABLE):
        return None
    if con.execute(f"select count(*) from {SCORED_INPUTS_TABLE}").fetchall()[0][0] == 0:
        return None
    population = population_mean(model, _batches(con, batch_customers))
    columns = list(model.feature_names_in_)
    writer, described = None, {}
    try:
        for inputs in _batches(con, batch_customers):
            explained = explain(model, inputs, population)
            shares = explained.shares.assign(customer_id=inputs["customer_id"].to_numpy())
            long = shares.melt(id_vars="customer_id", var_name="feature", value_name="contribution")
            # melt's order: every customer's value of one input, then the next input's
            long["value"] = np.concatenate([_shown_column(inputs[c]) for c in columns])
            long = long.sort_values(["customer_id", "feature"], kind="stable")
            table = pa.Table.from_pandas(long, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(folder / CONTRIBUTIONS, table.schema)
                described = {
                    "file": CONTRIBUTIONS,
                    "unit": explained.unit,
                    "base": float(explained.base[0]),
                    "model_version": str(inputs["model_version"].iloc[0]),
                    "as_of_date": str(inputs["as_of_date"].iloc[0])[:10],
                }
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return described


def _batches(con: duckdb.DuckDBPyConnection, customers: int) -> Iterator[pd.DataFrame]:
    """The scored inputs in customer order, ``customers`` rows at a time."""
    result = con.execute(f"select * from {SCORED_INPUTS_TABLE} order by customer_id")
    while len(batch := result.fetch_df_chunk(max(1, customers // 2048))):
        yield batch


def _shown_column(values: pd.Series) -> np.ndarray:
    """``_shown`` of each value, formatting each distinct value once (a column of 100,000
    customers holds a few thousand distinct values at most, mostly)."""
    codes, distinct = pd.factorize(values)
    shown = np.array([*(_shown(v) for v in distinct), "missing"], dtype=object)
    return shown[codes]  # a missing value's code is -1: the last


def _shown(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "missing"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def write_registry(
    folder: Path,
    versions: list[dict[str, object]],
    moves: list[dict[str, str]],
    evaluation: Path | None,
) -> None:
    """Registry versions, the champion's moves, and the champion's evaluation files."""
    (folder / REGISTRY).write_text(
        json.dumps({"versions": versions, "moves": moves}, indent=2, default=str)
    )
    if evaluation is None:
        return
    target = folder / EVALUATION
    target.mkdir()
    for name in EVALUATION_FILES:
        if (evaluation / name).exists():
            shutil.copyfile(evaluation / name, target / name)
