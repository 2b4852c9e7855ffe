-- Point-in-time training set: each label row joined, with an ASOF join, to the latest
-- feature snapshot on or before its as-of date. This is the only path from features to
-- training data.
with

labels as (
    select * from {{ ref('churn_labels') }}
),

features as (
    select * from {{ ref('customer_features') }}
),

final as (
    select
        l.customer_id,
        l.as_of_date,
        f.as_of_date as feature_as_of_date,
        f.* exclude (customer_id, as_of_date, last_purchase_date),
        l.churned
    from labels as l
    asof inner join features as f
        on f.customer_id = l.customer_id and f.as_of_date <= l.as_of_date
)

select * from final
