-- Churn labels: for each active customer at each grid as-of date whose horizon has fully
-- passed, did they buy again within churn_horizon_days? churned = 1 when they did not.
-- Incremental: labels whose horizon reaches incremental_from or later are rebuilt. Built in
-- customer buckets when it would not fit DuckDB's memory limit (macros/buckets.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook=[
        "{{ incremental_delete('as_of_date', lookback_days=var('churn_horizon_days')) }}",
        "{{ fti.start_buckets(fti.customer_snapshot_rows(), bytes_per_row=150) }}",
    ],
    post_hook="{{ fti.build_other_buckets() }}",
) }}

{%- set start = incremental_from() %}

with

features as (
    select * from {{ ref('customer_features', v=1) }}
    where {{ fti.in_bucket(fti.customer_key('customer_id')) }}
),

snapshot_dates as (
    select * from {{ ref('feature_snapshot_dates') }}
),

daily as (
    select * from {{ ref('int_customer_daily') }}
    where {{ fti.in_bucket(fti.customer_key('customer_id')) }}
),

labelable as (
    select
        f.customer_id,
        f.as_of_date,
        f.lifetime_transactions,
        {{ fti.days_after('f.as_of_date', var("churn_horizon_days")) }} as horizon_end_date
    from features as f
    inner join snapshot_dates as s on s.as_of_date = f.as_of_date
    where s.is_grid_date
      and {{ fti.days_after('f.as_of_date', var("churn_horizon_days")) }} <= s.data_end_date
      and f.recency_days <= {{ var("active_window_days") }}
      {%- if start is not none %}
      and f.as_of_date >= {{ fti.days_before("date '" ~ start ~ "'", var("churn_horizon_days")) }}
      {%- endif %}
),

observed as (
    select
        l.customer_id,
        l.as_of_date,
        l.horizon_end_date,
        d.cumulative_transactions - l.lifetime_transactions as transactions_in_horizon
    from labelable as l
    {{ fti.asof_join(
        'inner', 'labelable', 'l', 'horizon_end_date', 'daily', 'd', 'customer_id',
        'activity_date', ['cumulative_transactions']
    ) }}
),

final as (
    select
        customer_id,
        as_of_date,
        horizon_end_date,
        cast(transactions_in_horizon as integer) as transactions_in_horizon,
        cast(transactions_in_horizon = 0 as integer) as churned
    from observed
)

select * from final
