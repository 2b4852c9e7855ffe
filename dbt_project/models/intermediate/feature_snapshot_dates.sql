-- The as-of dates at which features are computed: a fixed calendar grid every
-- snapshot_interval_days from snapshot_origin, within the data's range, plus the last day of
-- data (the snapshot that batch scoring uses).
with

bounds as (
    select min(activity_date) as first_date, max(activity_date) as last_date
    from {{ ref('int_customer_daily') }}
),

days as (
    select {{ fti.days_between('first_date', 'last_date') }} as as_of_date
    from bounds
),

final as (
    select
        days.as_of_date,
        {{ fti.days_from("date '" ~ var("snapshot_origin") ~ "'", 'days.as_of_date') }}
            % {{ var("snapshot_interval_days") }} = 0 as is_grid_date,
        days.as_of_date = bounds.last_date as is_latest,
        bounds.last_date as data_end_date
    from days
    cross join bounds
)

select as_of_date, is_grid_date, is_latest, data_end_date
from final
where is_grid_date or is_latest
