-- No training row may use features from after its as-of date.
select * from {{ ref('training_set') }} where feature_as_of_date > as_of_date
