-- Customer attributes that change over time (type-2): one row per customer and version,
-- valid from the time the version became true. Versions come from the dbt snapshot of
-- raw.customers (changes seen by successive loads) and from the history the source exported
-- (changes from before snapshots were taken); where both know a version, the snapshot wins.
-- Retrieval joins this view as of the spine time, so a training row never sees a later value.
with

snapshotted as (
    select customer_id, dbt_valid_from as valid_from, country, segment, 0 as precedence
    from {{ ref('customers_snapshot') }}
),

exported as (
    select customer_id, cast(updated_at as timestamp) as valid_from, country, segment,
        1 as precedence
    from {{ source('raw', 'customer_history') }}
),

candidates as (
    select * from snapshotted
    union all
    select * from exported
),

ranked as (
    select
        *,
        row_number() over (partition by customer_id, valid_from order by precedence) as rank
    from candidates
),

versions as (
    select customer_id, valid_from, country, segment from ranked where rank = 1
),

final as (
    select
        customer_id,
        valid_from,
        lead(valid_from) over (partition by customer_id order by valid_from) as valid_to,
        coalesce(country, 'unknown') as country,
        coalesce(segment, 'unknown') as segment
    from versions
)

select * from final
