-- One row per customer and purchase day, with running totals up to and including that day.
-- Running totals turn every windowed aggregate into a difference of two point lookups,
-- so features at any as-of date cost one ASOF join instead of a range join.
-- Incremental: only days on or after incremental_from are rebuilt, continuing each
-- customer's running totals from the last day before it.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook="{{ incremental_delete('activity_date') }}",
) }}

{%- set start = incremental_from() %}

with

transactions as (
    select * from {{ ref('stg_transactions') }}
),

daily as (
    select
        customer_id,
        transaction_date as activity_date,
        count(*) as transactions,
        sum(amount) as spend,
        sum(coalesce(quantity, 1)) as items
    from transactions
    {%- if start is not none %}
    where transaction_date >= date '{{ start }}'
    {%- endif %}
    group by customer_id, transaction_date
),

-- Running totals up to the day before the rebuilt range (nothing on a full build).
prior as (
    {%- if start is not none %}
    select
        customer_id,
        max(cumulative_transactions) as transactions,
        max(cumulative_spend) as spend,
        max(cumulative_items) as items,
        max(cumulative_active_days) as active_days
    from {{ this }}
    where activity_date < date '{{ start }}'
    group by customer_id
    {%- else %}
    select cast(null as {{ dbt.type_string() }}) as customer_id, 0 as transactions, 0 as spend,
           0 as items, 0 as active_days
    where false
    {%- endif %}
),

-- Sums come back as 128-bit types; 64-bit ones hold any real history and make this table
-- and every lookup into it faster.
final as (
    select
        daily.customer_id,
        daily.activity_date,
        cast(daily.transactions as bigint) as transactions,
        cast(daily.spend as decimal(18, 4)) as spend,
        cast(daily.items as bigint) as items,
        cast(coalesce(prior.transactions, 0) + sum(daily.transactions) over customer_history
            as bigint) as cumulative_transactions,
        cast(coalesce(prior.spend, 0) + sum(daily.spend) over customer_history
            as decimal(18, 4)) as cumulative_spend,
        cast(coalesce(prior.items, 0) + sum(daily.items) over customer_history
            as bigint) as cumulative_items,
        cast(coalesce(prior.active_days, 0) + row_number() over customer_history
            as bigint) as cumulative_active_days
    from daily
    left join prior on prior.customer_id = daily.customer_id
    window customer_history as (
        partition by daily.customer_id order by daily.activity_date
        rows between unbounded preceding and current row
    )
)

select * from final
