-- Feature joins key on hash(customer_id) (an integer join is faster than one on text; see
-- bench/RESULTS.md); two customers sharing a hash would mix their histories, so a collision
-- fails here.
{{ config(meta={'dagster': {'ref': {'name': 'stg_customers'}}}) }}  -- a check on this asset in Dagster

select {{ fti.customer_key('customer_id') }} as customer_key, count(*) as customers
from {{ ref('stg_customers') }}
group by 1
having count(*) > 1
