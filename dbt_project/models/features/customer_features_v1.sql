-- Customer feature timeline: one row per customer and as-of date (from their first purchase
-- on), using only purchases on or before the as-of date. Windows are (as_of - N days, as_of].
-- Incremental: only snapshots on or after incremental_from are rebuilt (the previous
-- last-day snapshot, no longer a snapshot date, is dropped). Built in customer buckets when
-- customers x snapshots would not fit DuckDB's memory limit (macros/buckets.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook=[
        "{{ incremental_delete_snapshots() }}",
        "{{ fti.start_buckets(fti.customer_snapshot_rows(), bytes_per_row=250) }}",
    ],
    post_hook="{{ fti.build_other_buckets() }}",
) }}

{%- set start = incremental_from() %}
{%- set edges = [('d0', 0), ('d30', 30), ('d90', 90), ('d365', 365)] %}
{%- set carried = ['transactions', 'spend', 'active_days'] %}

with

-- Joins key on a 64-bit hash of the id: ASOF joins on an integer run about twice as fast as
-- on text (measured in bench/features.py). The test assert_customer_keys_unique catches a
-- collision.
daily as (
    select
        {{ fti.customer_key('customer_id') }} as customer_key,
        activity_date,
        cumulative_transactions as transactions,
        cumulative_spend as spend,
        cumulative_active_days as active_days
    from {{ ref('int_customer_daily') }}
    where {{ fti.in_bucket(fti.customer_key('customer_id')) }}
),

snapshot_dates as (
    select * from {{ ref('feature_snapshot_dates') }}
    {%- if start is not none %}
    where as_of_date >= date '{{ start }}'
    {%- endif %}
),

customers as (
    select
        {{ fti.customer_key('customer_id') }} as customer_key,
        customer_id,
        first_purchase_date,
        acquisition_channel
    from {{ ref('stg_customers') }}
    where {{ fti.in_bucket(fti.customer_key('customer_id')) }}
),

-- Only the keys go through the as-of lookups: each lookup sorts this relation (customers x
-- snapshots, 220M rows at 50M transactions), spilling what exceeds DuckDB's memory limit,
-- so every column carried through it costs disk; the customer's own columns join back once.
customer_snapshots as (
    select c.customer_key, s.as_of_date
    from customers as c
    inner join snapshot_dates as s on s.as_of_date >= c.first_purchase_date
),

{%- if start is not none %}

-- An incremental build looks a few snapshots up in the whole daily history, so sorting that
-- history dominates: one as-of lookup for every edge at once sorts it once instead of four
-- times (one new day at 10M transactions: 1.1 s instead of 5.5 s). A full build, with every
-- snapshot, is twice as fast with one lookup per edge (below).
lookup_dates as (
    {%- for alias, days in edges %}
    select customer_key, as_of_date, '{{ alias }}' as edge,
        {{ fti.days_before('as_of_date', days) }} as lookup_date
    from customer_snapshots
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

lookups as (
    select l.customer_key, l.as_of_date, l.edge, d.activity_date
        {%- for column in carried %}, d.{{ column }}{% endfor %}
    from lookup_dates as l
    {{ fti.asof_join(
        'left', 'lookup_dates', 'l', 'lookup_date', 'daily', 'd', 'customer_key',
        'activity_date', carried
    ) }}
),
{%- endif %}

-- Running totals at the as-of date and at each window's edge (a full build: one ASOF lookup
-- per edge).
pivoted as (
    select
        c.customer_id,
        cs.as_of_date,
        c.first_purchase_date,
        c.acquisition_channel,
        d0.activity_date as last_purchase_date,
        coalesce(d0.transactions, 0) as lifetime_transactions,
        coalesce(d0.spend, 0) as lifetime_spend,
        coalesce(d0.active_days, 0) as lifetime_active_days,
        coalesce(d30.transactions, 0) as transactions_before_30d,
        coalesce(d30.spend, 0) as spend_before_30d,
        coalesce(d90.transactions, 0) as transactions_before_90d,
        coalesce(d90.spend, 0) as spend_before_90d,
        coalesce(d90.active_days, 0) as active_days_before_90d,
        coalesce(d365.transactions, 0) as transactions_before_365d,
        coalesce(d365.spend, 0) as spend_before_365d
    from customer_snapshots as cs
    {%- for alias, days in edges %}
    {%- if start is none %}
    {{ fti.asof_join(
        'left', 'customer_snapshots', 'cs', 'as_of_date', 'daily', alias, 'customer_key',
        'activity_date', carried, days_before=days
    ) }}
    {%- else %}
    left join lookups as {{ alias }}
        on {{ alias }}.customer_key = cs.customer_key
        and {{ alias }}.as_of_date = cs.as_of_date
        and {{ alias }}.edge = '{{ alias }}'
    {%- endif %}
    {%- endfor %}
    inner join customers as c on c.customer_key = cs.customer_key
),

final as (
    select
        customer_id,
        as_of_date,

        -- recency and tenure
        {{ fti.days_from('last_purchase_date', 'as_of_date') }} as recency_days,
        {{ fti.days_from('first_purchase_date', 'as_of_date') }} as tenure_days,

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
        -- ratios rounded exactly (macros/engine.sql: round_ratio); spend in 1/10000 units
        {{ fti.round_ratio('lifetime_spend * 10000', '10000 * lifetime_transactions', 2) }}
            as avg_basket_lifetime,
        {{ fti.round_ratio(
            '(lifetime_spend - spend_before_90d) * 10000',
            'nullif(lifetime_transactions - transactions_before_90d, 0) * 10000',
            2
        ) }} as avg_basket_90d,
        {{ fti.round_ratio(
            '30 * lifetime_transactions',
            'greatest(' ~ fti.days_from('first_purchase_date', 'as_of_date') ~ ', 1)',
            4
        ) }} as purchases_per_month,

        -- the attribute that never changes ('unknown' when the source has none); those that
        -- change over time are the feature view customer_attributes
        acquisition_channel,

        last_purchase_date
    from pivoted
)

-- Stored in as-of-date order (each bucket's rows in turn): scoring reads the latest snapshot
-- only, and DuckDB skips the row groups of every other date (macros/engine.sql).
select * from final
{{ fti.stored_in_order_of('as_of_date') }}
