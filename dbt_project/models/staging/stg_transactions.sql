-- Typed purchases. Ingestion guarantees one row per transaction_id (a repeated id is
-- rejected or skipped with a reason, see raw.rejected_transactions) and the unique test below
-- holds dbt to it. No deduplicating window here: it would read every transaction on each
-- incremental run, where a filter on the day now reaches the raw scan.
-- Amounts are exact decimals so that sums do not depend on summation order (floating-point
-- sums in parallel threads differ in the last bit, which flips rounding between runs).
with

source as (
    select * from {{ source('raw', 'transactions') }}
),

final as (
    select
        cast(transaction_id as {{ dbt.type_string() }}) as transaction_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(transaction_ts as timestamp) as transaction_ts,
        cast(transaction_ts as date) as transaction_date,
        cast(amount as decimal(18, 4)) as amount,
        cast(quantity as integer) as quantity
    from source
)

select * from final
