-- Customer feature timeline, version 2: everything in v1 plus trend features that compare
-- the recent window with a longer one. A customer slowing down shows a falling trend before
-- recency grows. Lives beside v1 so models trained on v1 keep being served.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook="{{ incremental_delete_snapshots() }}",
) }}

{%- set start = incremental_from() %}

with

v1 as (
    select * from {{ ref('customer_features', v=1) }}
    {%- if start is not none %}
    where as_of_date >= date '{{ start }}'
    {%- endif %}
),

final as (
    select
        *,
        -- trends: 1.0 = steady, below 1.0 = slowing down; null without a baseline
        round(spend_30d / nullif(spend_90d / 3.0, 0), 4) as spend_trend_30_90,
        round(transactions_90d / nullif(transactions_365d / (365.0 / 90.0), 0), 4)
            as transactions_trend_90_365
    from v1
)

select * from final
