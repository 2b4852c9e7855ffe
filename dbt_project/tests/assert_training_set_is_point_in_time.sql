-- The training set has exactly one row per label row, and every labeled customer was active,
-- so each must have found its feature snapshot (recency within the active window).
{{ config(meta={'dagster': {'ref': {'name': 'training_set'}}}) }}  -- a check on this asset in Dagster

select l.customer_id, l.as_of_date
from {{ ref('churn_labels') }} as l
full outer join {{ ref('training_set') }} as t
    on t.customer_id = l.customer_id and t.event_timestamp = l.as_of_date
where t.customer_id is null or l.customer_id is null
   or t.customer_features__recency_days > {{ var("active_window_days") }}
