-- Customer feature timeline, version 2: everything in v1 plus trend features that compare
-- the recent window with a longer one. A customer slowing down shows a falling trend before
-- recency grows. Lives beside v1 so models trained on v1 keep being served.
-- A view: the two trends cost nothing to compute on read, while a table would copy every v1
-- row (a fifth of the feature build, measured in bench/features.py). The published feature
-- store materializes it like every other feature view. On Spark it is a table (Parquet that
-- DuckDB can read).
{{ config(materialized='table' if target.type == 'spark' else 'view') }}

with

v1 as (
    select * from {{ ref('customer_features', v=1) }}
),

final as (
    select
        *,
        -- trends: 1.0 = steady, below 1.0 = slowing down; null without a baseline
        -- exact ratios of cents and of counts (macros/engine.sql: round_ratio)
        {{ fti.round_ratio(
            '3 * cast(round(spend_30d * 100) as bigint)',
            'nullif(cast(round(spend_90d * 100) as bigint), 0)',
            4
        ) }} as spend_trend_30_90,
        {{ fti.round_ratio('365 * transactions_90d', '90 * nullif(transactions_365d, 0)', 4) }}
            as transactions_trend_90_365
    from v1
)

select * from final
