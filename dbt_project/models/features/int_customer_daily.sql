-- One row per customer and purchase day, with running totals up to and including that day.
-- Running totals turn every windowed aggregate into a difference of two point lookups,
-- so features at any as-of date cost one ASOF join instead of a range join.
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
    group by customer_id, transaction_date
),

final as (
    select
        *,
        sum(transactions) over customer_history as cumulative_transactions,
        sum(spend) over customer_history as cumulative_spend,
        sum(items) over customer_history as cumulative_items,
        row_number() over customer_history as cumulative_active_days
    from daily
    window customer_history as (
        partition by customer_id order by activity_date
        rows between unbounded preceding and current row
    )
)

select * from final
