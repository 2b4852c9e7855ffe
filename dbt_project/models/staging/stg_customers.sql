-- Every customer seen in the transactions, with the attributes that never change. Those that
-- do change (country, segment) are in customer_attributes, valid over time.
-- A table, unlike the other staging models: it aggregates every transaction, and batch
-- scoring reads it for its population on each run.
{{ config(materialized='table') }}
with

transactions as (
    select * from {{ ref('stg_transactions') }}
),

attributes as (
    select * from {{ source('raw', 'customers') }}
),

first_purchases as (
    select customer_id, min(transaction_date) as first_purchase_date
    from transactions
    group by customer_id
),

final as (
    select
        f.customer_id,
        f.first_purchase_date,
        coalesce(cast(a.signup_date as date), f.first_purchase_date) as signup_date,
        coalesce(a.acquisition_channel, 'unknown') as acquisition_channel
    from first_purchases as f
    left join attributes as a on a.customer_id = f.customer_id
)

select * from final
