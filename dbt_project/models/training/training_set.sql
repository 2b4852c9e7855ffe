-- Point-in-time training set: each label row joined, with an ASOF join, to the latest
-- feature snapshot on or before its as-of date, and to the customer's attributes.
with

labels as (
    select * from {{ ref('churn_labels') }}
),

features as (
    select * from {{ ref('customer_features') }}
),

customers as (
    select * from {{ ref('stg_customers') }}
),

point_in_time as (
    select
        l.customer_id,
        l.as_of_date,
        f.as_of_date as feature_as_of_date,
        f.* exclude (customer_id, as_of_date, last_purchase_date),
        l.churned
    from labels as l
    asof inner join features as f
        on f.customer_id = l.customer_id and f.as_of_date <= l.as_of_date
),

final as (
    select
        p.* exclude (churned),
        c.country,
        c.acquisition_channel,
        p.churned
    from point_in_time as p
    inner join customers as c on c.customer_id = p.customer_id
)

select * from final
