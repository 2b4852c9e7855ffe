-- Typed, deduplicated purchases: a transaction id seen twice keeps its earliest row.
-- Amounts are exact decimals so that sums do not depend on summation order (floating-point
-- sums in parallel threads differ in the last bit, which flips rounding between runs).
with

source as (
    select * from {{ source('raw', 'transactions') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by transaction_id order by transaction_ts, customer_id, amount
        ) as occurrence
    from source
),

final as (
    select
        cast(transaction_id as varchar) as transaction_id,
        cast(customer_id as varchar) as customer_id,
        cast(transaction_ts as timestamp) as transaction_ts,
        cast(transaction_ts as date) as transaction_date,
        cast(amount as decimal(18, 4)) as amount,
        cast(quantity as integer) as quantity
    from ranked
    where occurrence = 1
)

select * from final
