{#
  Incremental feature builds. `dbt build --vars '{incremental_from: 2025-12-01}'` recomputes
  only what transactions dated on or after that day can change; without the var an existing
  table is emptied and rebuilt in full (same SQL, same result). The caller must choose a day
  no later than the earliest new transaction.
#}

{% macro incremental_from() -%}
    {%- if is_incremental() -%}{{ return(var('incremental_from', none)) }}{%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{# Pre-hook: delete the rows the run will rebuild (all of them on a full run). #}
{% macro incremental_delete(column, lookback_days=0, also=none) -%}
    {%- if is_incremental() -%}
        {%- set start = var('incremental_from', none) -%}
        delete from {{ this }}
        {%- if start is not none %}
        where {{ column }} >= date '{{ start }}' - {{ lookback_days }}
            {%- if also is not none %} or {{ also }}{% endif %}
        {%- endif %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{# Pre-hook of feature timelines: also drop snapshot dates that are no longer snapshot dates
   (the previous last-day snapshot, once newer data arrives). #}
{% macro incremental_delete_snapshots() -%}
    {{ return(incremental_delete(
        'as_of_date',
        also='as_of_date not in (select as_of_date from ' ~ ref('feature_snapshot_dates') ~ ')'
    )) }}
{%- endmacro %}
