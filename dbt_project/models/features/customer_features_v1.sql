-- Customer feature timeline: one row per customer and as-of date (from their first purchase
-- on), using only purchases on or before the as-of date. Windows are (as_of - N days, as_of].
-- Incremental: only snapshots on or after incremental_from are rebuilt (the previous
-- last-day snapshot, no longer a snapshot date, is dropped).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook="{{ incremental_delete_snapshots() }}",
) }}

{%- set start = incremental_from() %}

with

daily as (
    select * from {{ ref('int_customer_daily') }}
),

snapshot_dates as (
    select * from {{ ref('feature_snapshot_dates') }}
    {%- if start is not none %}
    where as_of_date >= date '{{ start }}'
    {%- endif %}
),

customers as (
    select * from {{ ref('stg_customers') }}
),

customer_snapshots as (
    select c.customer_id, c.first_purchase_date, c.acquisition_channel, s.as_of_date
    from customers as c
    inner join snapshot_dates as s on s.as_of_date >= c.first_purchase_date
),

-- One lookup per snapshot and window edge; window 0 is the as-of date itself.
lookups as (
    select cs.*, w.window_days, cs.as_of_date - w.window_days as lookup_date
    from customer_snapshots as cs
    cross join (values (0), (30), (90), (365)) as w (window_days)
),

running_totals as (
    select
        l.customer_id,
        l.as_of_date,
        l.first_purchase_date,
        l.acquisition_channel,
        l.window_days,
        d.activity_date as last_activity_date,
        coalesce(d.cumulative_transactions, 0) as transactions,
        coalesce(d.cumulative_spend, 0) as spend,
        coalesce(d.cumulative_active_days, 0) as active_days
    from lookups as l
    asof left join daily as d
        on d.customer_id = l.customer_id and d.activity_date <= l.lookup_date
),

pivoted as (
    select
        customer_id,
        as_of_date,
        any_value(first_purchase_date) as first_purchase_date,
        any_value(acquisition_channel) as acquisition_channel,
        max(last_activity_date) filter (where window_days = 0) as last_purchase_date,
        max(transactions) filter (where window_days = 0) as lifetime_transactions,
        max(spend) filter (where window_days = 0) as lifetime_spend,
        max(active_days) filter (where window_days = 0) as lifetime_active_days,
        max(transactions) filter (where window_days = 30) as transactions_before_30d,
        max(spend) filter (where window_days = 30) as spend_before_30d,
        max(transactions) filter (where window_days = 90) as transactions_before_90d,
        max(spend) filter (where window_days = 90) as spend_before_90d,
        max(active_days) filter (where window_days = 90) as active_days_before_90d,
        max(transactions) filter (where window_days = 365) as transactions_before_365d,
        max(spend) filter (where window_days = 365) as spend_before_365d
    from running_totals
    group by customer_id, as_of_date
),

final as (
    select
        customer_id,
        as_of_date,

        -- recency and tenure
        datediff('day', last_purchase_date, as_of_date) as recency_days,
        datediff('day', first_purchase_date, as_of_date) as tenure_days,

        -- windowed counts and spend
        cast(lifetime_transactions - transactions_before_30d as integer) as transactions_30d,
        cast(lifetime_transactions - transactions_before_90d as integer) as transactions_90d,
        cast(lifetime_transactions - transactions_before_365d as integer) as transactions_365d,
        cast(round(lifetime_spend - spend_before_30d, 2) as double) as spend_30d,
        cast(round(lifetime_spend - spend_before_90d, 2) as double) as spend_90d,
        cast(round(lifetime_spend - spend_before_365d, 2) as double) as spend_365d,
        cast(lifetime_active_days - active_days_before_90d as integer) as active_days_90d,

        -- lifetime shape
        cast(lifetime_transactions as integer) as lifetime_transactions,
        cast(round(lifetime_spend, 2) as double) as lifetime_spend,
        round(cast(lifetime_spend as double) / lifetime_transactions, 2) as avg_basket_lifetime,
        round(
            cast(lifetime_spend - spend_before_90d as double)
            / nullif(lifetime_transactions - transactions_before_90d, 0),
            2
        ) as avg_basket_90d,
        round(
            30.0 * lifetime_transactions / greatest(datediff('day', first_purchase_date, as_of_date), 1),
            4
        ) as purchases_per_month,

        -- the attribute that never changes ('unknown' when the source has none); those that
        -- change over time are the feature view customer_attributes
        acquisition_channel,

        last_purchase_date
    from pivoted
)

select * from final
