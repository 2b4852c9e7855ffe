-- The current version of every customer's changing attributes is what the source shows now:
-- the snapshot and the exported history together must end where raw.customers is.
{{ config(meta={'dagster': {'ref': {'name': 'customer_attributes'}}}) }}  -- a check on this asset in Dagster

with

current_versions as (
    select customer_id, valid_from, country, segment
    from {{ ref('customer_attributes') }}
    where valid_to is null
),

source as (
    select customer_id, cast(updated_at as timestamp) as updated_at,
        coalesce(country, 'unknown') as country, coalesce(segment, 'unknown') as segment
    from {{ source('raw', 'customers') }}
)

select s.customer_id, s.updated_at, c.valid_from, s.country, c.country as current_country,
    s.segment, c.segment as current_segment
from source as s
left join current_versions as c using (customer_id)
where c.customer_id is null
    or c.valid_from <> s.updated_at
    or c.country <> s.country
    or c.segment <> s.segment
