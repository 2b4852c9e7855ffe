"""Point-in-time retrieval in Spark SQL, with the rules of ``ml.features.retrieval``.

The same availability rule (a DATE event time is known from the next midnight, a TIMESTAMP at
its instant; a DATE spine time means the end of that day), the same ``max_age_days``, one row
per spine row in spine order, the spine's columns first and then ``<view>__<feature>``.

Spark SQL has no ASOF join. Per view, the spine's probes and the view's rows go into one
timeline per entity, ordered by availability with the view's rows first at equal times; each
probe takes the last view row before it (``last_value`` over a struct of the row, ignoring the
probes' nulls). That is one sort per view, which Spark distributes by entity.
"""

from __future__ import annotations

from ml.features.retrieval import (
    _ROW,
    _TIME,
    SPINE_TIME,
    SpineError,
    assemble,
    check_spine,
    view_columns,
)
from ml.features.views import FeatureView, training_set_selection

_SPINE_VIEW = "__fti_spine"


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _available_at(column: str, data_type: str) -> str:
    if data_type == "date":
        return f"(cast({column} as timestamp) + interval 1 day)"
    return f"cast({column} as timestamp)"


def _types(spark, relation: str) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in spark.table(relation).schema.fields}


def retrieval_sql(spark, spine: str, selection: dict[FeatureView, list[str]]) -> str:
    """The retrieval query over ``spine`` (a temporary view with a ``__fti_row`` column that
    numbers its rows)."""
    spine_types = _types(spark, spine)
    columns = [c for c in spine_types if c != _ROW]
    check_spine(columns)
    spine_time = _available_at(_quote(SPINE_TIME), spine_types[SPINE_TIME])
    ctes = [f"spine as (select *, {spine_time} as {_TIME} from {spine})"]
    selects = [f"spine.{_quote(c)}" for c in columns]
    joins = []
    for i, (view, features) in enumerate(selection.items()):
        if view.entity not in spine_types:
            raise SpineError(
                f"the spine has no {view.entity} column, the entity of feature view {view.name}"
            )
        view_types = _types(spark, view.relation)
        entity = _quote(view.entity)
        available_at = _available_at(
            _quote(view.timestamp_column), view_types[view.timestamp_column]
        )
        alias = f"v{i}"
        row = ", ".join([f"{available_at} as __available_at", *map(_quote, features)])
        ctes.append(
            f"""{alias} as (
                select {_ROW}, __row.*
                from (
                    select {_ROW}, __is_probe, last_value(__row, true) over (
                        partition by __entity order by __time, __is_probe
                        rows between unbounded preceding and current row
                    ) as __row
                    from (
                        select try_cast({entity} as {view_types[view.entity]}) as __entity,
                               {_TIME} as __time, 1 as __is_probe, {_ROW}, null as __row
                        from spine
                        union all
                        select {entity}, {available_at}, 0, null, struct({row})
                        from {view.relation}
                        where {entity} is not null
                    )
                )
                where __is_probe = 1
            )"""
        )
        selects += view_columns(alias, view, features, _quote)
        joins.append(f"left join {alias} on {alias}.{_ROW} = spine.{_ROW}")
    return assemble(ctes, selects, joins)


def historical_features(spark, spine, selection: dict[FeatureView, list[str]]):
    """Point-in-time features for a spine DataFrame, as a DataFrame in spine order.

    The spine's rows are numbered and checkpointed first: the numbering is not deterministic,
    and the query reads the spine once per view.
    """
    from pyspark.sql import functions as F

    numbered = spine.withColumn(_ROW, F.monotonically_increasing_id()).localCheckpoint()
    numbered.createOrReplaceTempView(_SPINE_VIEW)
    return spark.sql(retrieval_sql(spark, _SPINE_VIEW, selection))


def write_training_set(spark, manifest: dict) -> int:
    """Build ``training.training_set`` on Spark as the dbt model does on DuckDB: every label row
    (customer_id, event_timestamp = as_of_date, churned) with the model's feature views.

    dbt-spark runs Python models only on Databricks, so on the Spark engine this replaces the
    model's run; its tests still run in dbt.
    """
    labels = spark.table("training.churn_labels").selectExpr(
        "customer_id", f"cast(as_of_date as date) as {SPINE_TIME}", "churned"
    )
    frame = historical_features(spark, labels, training_set_selection(manifest))
    frame.write.mode("overwrite").format("parquet").saveAsTable("training.training_set")
    return spark.table("training.training_set").count()
