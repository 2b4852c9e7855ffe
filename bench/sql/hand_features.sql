-- The reference for bench/features.py: customer_features_v2 (every v1 feature plus the two
-- trends) computed from raw.transactions and raw.customers in one statement, as a DuckDB user
-- would write it by hand without dbt. Same definitions as the dbt models, so the benchmark
-- can check that both give the same rows (and tests/test_features_sql.py checks it by hand).

with

transactions as (
    select
        cast(customer_id as varchar) as customer_id,
        cast(transaction_ts as date) as transaction_date,
        cast(amount as decimal(18, 4)) as amount
    from raw.transactions  -- ingestion keeps transaction ids unique
),

daily as (
    select
        hash(customer_id) as customer_key,
        transaction_date as activity_date,
        count(*) as transactions,
        sum(amount) as spend
    from transactions
    group by all
),

running as (
    select
        customer_key,
        activity_date,
        cast(sum(transactions) over history as bigint) as transactions,
        cast(sum(spend) over history as decimal(18, 4)) as spend,
        row_number() over history as active_days
    from daily
    window history as (
        partition by customer_key order by activity_date rows unbounded preceding
    )
),

customers as (
    select
        t.customer_id,
        hash(t.customer_id) as customer_key,
        min(t.transaction_date) as first_purchase_date,
        coalesce(any_value(c.acquisition_channel), 'unknown') as acquisition_channel
    from transactions as t
    left join raw.customers as c on c.customer_id = t.customer_id
    group by t.customer_id
),

snapshot_dates as (
    select as_of_date
    from (
        select cast(unnest(generate_series(
            cast(min(transaction_date) as timestamp),
            cast(max(transaction_date) as timestamp),
            interval 1 day
        )) as date) as as_of_date, max(transaction_date) as last_date
        from transactions
    )
    where datediff('day', date '{snapshot_origin}', as_of_date) % {snapshot_interval_days} = 0
        or as_of_date = last_date
),

grid as (
    select c.*, s.as_of_date
    from customers as c
    inner join snapshot_dates as s on s.as_of_date >= c.first_purchase_date
),

totals as (
    select
        g.customer_id,
        g.as_of_date,
        g.first_purchase_date,
        g.acquisition_channel,
        r0.activity_date as last_purchase_date,
        coalesce(r0.transactions, 0) as n0,
        coalesce(r0.spend, 0) as s0,
        coalesce(r30.transactions, 0) as n30,
        coalesce(r30.spend, 0) as s30,
        coalesce(r90.transactions, 0) as n90,
        coalesce(r90.spend, 0) as s90,
        coalesce(r0.active_days, 0) - coalesce(r90.active_days, 0) as active_days_90d,
        coalesce(r365.transactions, 0) as n365,
        coalesce(r365.spend, 0) as s365
    from grid as g
    asof left join running as r0
        on r0.customer_key = g.customer_key and r0.activity_date <= g.as_of_date
    asof left join running as r30
        on r30.customer_key = g.customer_key and r30.activity_date <= g.as_of_date - 30
    asof left join running as r90
        on r90.customer_key = g.customer_key and r90.activity_date <= g.as_of_date - 90
    asof left join running as r365
        on r365.customer_key = g.customer_key and r365.activity_date <= g.as_of_date - 365
),

features as (
    select
        customer_id,
        as_of_date,
        datediff('day', last_purchase_date, as_of_date) as recency_days,
        datediff('day', first_purchase_date, as_of_date) as tenure_days,
        cast(n0 - n30 as integer) as transactions_30d,
        cast(n0 - n90 as integer) as transactions_90d,
        cast(n0 - n365 as integer) as transactions_365d,
        cast(round(s0 - s30, 2) as double) as spend_30d,
        cast(round(s0 - s90, 2) as double) as spend_90d,
        cast(round(s0 - s365, 2) as double) as spend_365d,
        cast(active_days_90d as integer) as active_days_90d,
        cast(n0 as integer) as lifetime_transactions,
        cast(round(s0, 2) as double) as lifetime_spend,
        -- ratios rounded half up exactly, as the dbt models do (macros/engine.sql: round_ratio)
        floor((2e0 * (s0 * 10000) * 100 + (10000 * n0)) / (2e0 * (10000 * n0))) / 100 as avg_basket_lifetime,
        floor((2e0 * ((s0 - s90) * 10000) * 100 + (nullif(n0 - n90, 0) * 10000)) / (2e0 * (nullif(n0 - n90, 0) * 10000))) / 100
            as avg_basket_90d,
        floor((2e0 * (30 * n0) * 10000 + (greatest(datediff('day', first_purchase_date, as_of_date), 1))) / (2e0 * (greatest(datediff('day', first_purchase_date, as_of_date), 1)))) / 10000
            as purchases_per_month,
        acquisition_channel,
        last_purchase_date
    from totals
)

select
    *,
    floor((2e0 * (3 * cast(round(spend_30d * 100) as bigint)) * 10000 + (nullif(cast(round(spend_90d * 100) as bigint), 0))) / (2e0 * (nullif(cast(round(spend_90d * 100) as bigint), 0)))) / 10000
        as spend_trend_30_90,
    floor((2e0 * (365 * transactions_90d) * 10000 + (90 * nullif(transactions_365d, 0))) / (2e0 * (90 * nullif(transactions_365d, 0)))) / 10000
        as transactions_trend_90_365
from features
