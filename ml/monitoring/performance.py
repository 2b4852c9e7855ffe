"""How the recorded predictions turned out, and an estimate for those not known yet.

*Realized*: a scoring date's predictions are judged once its label horizon has passed in the
data (the last transaction day is at least ``horizon`` days after it), never before. The
label is the training label's rule applied to every customer scored that day: churned when
they bought nothing in the ``horizon`` days after the scoring date. Metrics, per scoring
date and model version, in DuckDB SQL (same definitions as scikit-learn, tested against it):

* ROC AUC by the Mann-Whitney statistic: the share of (churner, non-churner) pairs ranked
  the right way round, ties counting half;
* PR AUC as average precision: sum over distinct scores, highest first, of recall gained x
  precision at that score;
* precision and recall in the top decile: the ceil(10%) highest scores, ties by customer id;
* Brier score.

Every customer scored counts (lapsed ones too, who are easy, so these read higher than the
holdout's); the ``active_*`` figures keep the population the model was trained and gated
on (bought within the active window), and are what a retraining request compares with the
version's holdout.

*Estimated* (confidence-based performance estimation): if the probabilities are calibrated,
the expected number of churners among the top decile is the sum of their probabilities, so
expected precision = mean probability in the top decile and expected recall = their sum /
the sum over everyone. Reported for every scoring date; where labels have arrived, beside the
realized value, so the estimate's own error is visible.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from ml.inference.batch_scoring import HISTORY_TABLE

DAILY_TABLE = "features.int_customer_daily"
TOP_SHARE = 0.1

_KEYS = ["as_of_date", "model_version"]
_GROUP = ", ".join(_KEYS)


def _on(alias: str) -> str:
    """The group's key columns of a table alias."""
    return ", ".join(f"{alias}.{key}" for key in _KEYS)


def metrics_sql(relation: str) -> str:
    """Metrics per (as_of_date, model_version) of ``relation`` (columns as_of_date,
    model_version, customer_id, p, y). The AUCs come from one row per distinct score, so only
    the top decile needs the rows in order."""
    return f"""
    with thresholds as (
        select {_GROUP}, p, sum(y) as positives_at, count(*) as rows_at
        from {relation} group by {_GROUP}, p
    ),
    curves as (
        select *,
            sum(positives_at) over descending as true_positives,
            sum(rows_at) over descending as predicted_positive,
            coalesce(sum(rows_at - positives_at) over below, 0) as negatives_below
        from thresholds
        window descending as (partition by {_GROUP} order by p desc rows unbounded preceding),
               below as (partition by {_GROUP} order by p
                         rows between unbounded preceding and 1 preceding)
    ),
    areas as (
        select {_GROUP},
            sum(positives_at * true_positives / predicted_positive)
              / nullif(sum(positives_at), 0) as pr_auc,
            -- Mann-Whitney: each churner beats the non-churners scored lower, ties count half.
            sum(positives_at * (negatives_below + (rows_at - positives_at) / 2.0))
              / nullif(sum(positives_at) * sum(rows_at - positives_at), 0) as roc_auc
        from curves group by {_GROUP}
    ),
    -- The top decile: every row above the boundary score, and as many of the rows tied at
    -- it as still fit, by customer id; only the tied rows are sorted.
    sizes as (
        select {_GROUP}, sum(rows_at) as rows, sum(positives_at) as positives,
               ceil({TOP_SHARE} * sum(rows_at)) as k
        from thresholds group by {_GROUP}
    ),
    boundary as (
        select {_on("c")}, max(c.p) as p
        from curves as c join sizes as z using ({_GROUP})
        where c.predicted_positive >= z.k
        group by {_GROUP}
    ),
    above as (
        select {_on("c")},
            c.predicted_positive - c.rows_at as rows_above,
            c.true_positives - c.positives_at as positives_above
        from curves as c join boundary as b using ({_GROUP}, p)
    ),
    tied as (
        select {_on("r")}, r.y,
            row_number() over (partition by {_on("r")}
                               order by r.customer_id) as position
        from {relation} as r join boundary as b using ({_GROUP}, p)
    ),
    top as (
        select {_on("a")},
            a.positives_above + coalesce(sum(t.y) filter (
                where t.position <= z.k - a.rows_above), 0) as top_positives,
            any_value(z.k) as k
        from above as a
        join sizes as z using ({_GROUP})
        left join tied as t using ({_GROUP})
        group by {_on("a")}, a.positives_above
    ),
    brier as (
        select {_GROUP}, avg((p - y) * (p - y)) as brier from {relation} group by {_GROUP}
    ),
    summary as (
        select {_on("z")}, z.rows, z.positives,
            t.top_positives / t.k as precision_top_decile,
            t.top_positives / nullif(z.positives, 0) as recall_top_decile,
            b.brier
        from sizes as z join top as t using ({_GROUP}) join brier as b using ({_GROUP})
    )
    select s.*, a.roc_auc, a.pr_auc
    from summary as s join areas as a using ({_GROUP})
    """


def estimated_sql(relation: str) -> str:
    """Expected top-decile precision and recall, and Brier score, from the probabilities
    alone (``relation``: as_of_date, model_version, customer_id, p)."""
    return f"""
    with ranked as (
        select *,
            row_number() over (partition by {_GROUP} order by p desc, customer_id) as position,
            count(*) over (partition by {_GROUP}) as n
        from {relation}
    )
    select {_GROUP},
        count(*) as rows,
        avg(p) filter (where position <= ceil({TOP_SHARE} * n)) as precision_top_decile,
        sum(p) filter (where position <= ceil({TOP_SHARE} * n)) / nullif(sum(p), 0)
          as recall_top_decile,
        avg(p * (1 - p)) as brier
    from ranked group by {_GROUP}
    """


def _outcomes(horizon: int, active_days: int) -> str:
    """Each recorded prediction whose horizon has passed, with what happened (y)."""
    return f"""
    with data_end as (select max(activity_date) as day from {DAILY_TABLE}),
    scored as (
        select h.as_of_date, h.model_version, h.customer_id, h.churn_probability as p,
               coalesce(h.recency_days <= {active_days}, false) as active
        from {HISTORY_TABLE} as h, data_end
        where h.as_of_date + {horizon} <= data_end.day
    ),
    bought as (
        select distinct s.as_of_date, s.customer_id
        from scored as s
        join {DAILY_TABLE} as d
          on cast(d.customer_id as varchar) = s.customer_id
         and d.activity_date > s.as_of_date
         and d.activity_date <= s.as_of_date + {horizon}
    )
    select s.*, cast(b.customer_id is null as integer) as y
    from scored as s left join bought as b using (as_of_date, customer_id)
    """


_METRICS = [
    "rows",
    "positives",
    "roc_auc",
    "pr_auc",
    "precision_top_decile",
    "recall_top_decile",
    "brier",
]
_ESTIMATES = ["precision_top_decile", "recall_top_decile", "brier"]


def _with_active(con: duckdb.DuckDBPyConnection, sql, relation: str, columns) -> pd.DataFrame:
    """``sql`` over everyone, beside the same over the active population (``active_*``)."""
    everyone = con.execute(sql(relation)).df()
    active = con.execute(sql(f"(select * from {relation} where active)")).df()
    active = active[[*_KEYS, *columns]].rename(columns={c: f"active_{c}" for c in columns})
    return everyone.merge(active, on=_KEYS, how="left")


def realized(con: duckdb.DuckDBPyConnection, horizon: int, active_days: int) -> pd.DataFrame:
    """Realized metrics per scoring date and version whose horizon has passed, for everyone
    scored and for the active population, with the estimates made without labels beside
    them (``estimated_*``)."""
    con.execute(f"create or replace temp table _outcomes as {_outcomes(horizon, active_days)}")
    try:
        measured = _with_active(con, metrics_sql, "_outcomes", _METRICS)
        estimate = _with_active(con, estimated_sql, "_outcomes", _ESTIMATES)
    finally:
        con.execute("drop table if exists _outcomes")
    estimate = estimate.drop(columns="rows")
    estimate = estimate.rename(columns={c: f"estimated_{c}" for c in estimate if c not in _KEYS})
    out = measured.merge(estimate, on=_KEYS, how="left")
    return out.sort_values(_KEYS).reset_index(drop=True)


def estimated(con: duckdb.DuckDBPyConnection, horizon: int, active_days: int) -> pd.DataFrame:
    """The estimate for scoring dates whose horizon has not passed (labels not known yet),
    for everyone scored and for the active population."""
    relation = f"""(
        select h.as_of_date, h.model_version, h.customer_id, h.churn_probability as p,
               coalesce(h.recency_days <= {active_days}, false) as active
        from {HISTORY_TABLE} as h
        where h.as_of_date + {horizon} > (select max(activity_date) from {DAILY_TABLE})
    )"""
    out = _with_active(con, estimated_sql, relation, ["rows", *_ESTIMATES])
    return out.sort_values(_KEYS).reset_index(drop=True)
