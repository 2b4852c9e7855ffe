{#
  Incremental feature builds. `FTI_INCREMENTAL_FROM=2025-12-01 dbt build` recomputes only
  what transactions dated on or after that day can change; without it an existing table is
  emptied and rebuilt in full (same SQL, same result). The caller must choose a day no later
  than the earliest new transaction.

  An environment variable, not a `--vars` entry: dbt re-parses the whole project whenever its
  vars change (every incremental run names a new day: about 4 s a run here), while a changed
  environment variable re-parses only the files that read it.
#}

{% macro incremental_from() -%}
    {%- if is_incremental() -%}{{ return(env_var('FTI_INCREMENTAL_FROM', '') or none) }}{%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{# Pre-hook: delete the rows the run will rebuild (all of them on a full run). #}
{% macro incremental_delete(column, lookback_days=0, also=none) -%}
    {%- if is_incremental() -%}
        {%- set start = incremental_from() -%}
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
