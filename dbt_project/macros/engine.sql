{#
  What differs between the two engines, and nothing else. Every model is written once; where
  DuckDB and Spark SQL spell a thing differently, the model calls one of these macros and
  dbt's dispatch picks the engine's version (`duckdb__...` or `spark__...`, `default__...`
  when both agree). dbt's own cross-database macros (dbt.datediff, dbt.type_string) cover the
  rest.
#}

{# A 64-bit integer key for a text id: joins on it run about twice as fast as on text in
   DuckDB (bench/features.py). The two engines hash differently; the key never leaves a
   model, and assert_customer_keys_unique catches a collision on either. #}
{% macro customer_key(column) -%}
    {{ return(adapter.dispatch('customer_key', 'fti')(column)) }}
{%- endmacro %}

{% macro duckdb__customer_key(column) -%}hash({{ column }}){%- endmacro %}

{% macro spark__customer_key(column) -%}xxhash64({{ column }}){%- endmacro %}


{# Every day from first to last (both dates), one row each, as a select-list expression. #}
{% macro days_between(first, last) -%}
    {{ return(adapter.dispatch('days_between', 'fti')(first, last)) }}
{%- endmacro %}

{% macro duckdb__days_between(first, last) -%}
    cast(unnest(generate_series(
        cast({{ first }} as timestamp), cast({{ last }} as timestamp), interval 1 day
    )) as date)
{%- endmacro %}

{% macro spark__days_between(first, last) -%}
    explode(sequence({{ first }}, {{ last }}, interval 1 day))
{%- endmacro %}


{# Whole days from `first` to `second` (dates) as BIGINT on both engines (Spark's datediff
   returns INT). #}
{% macro days_from(first, second) -%}
    cast({{ dbt.datediff(first, second, 'day') }} as bigint)
{%- endmacro %}


{# The date `days` days before a date (`days` a literal integer). #}
{% macro days_before(column, days) -%}
    {{ return(adapter.dispatch('days_before', 'fti')(column, days)) }}
{%- endmacro %}

{% macro default__days_before(column, days) -%}
    {%- if days == 0 -%}{{ column }}{%- else -%}({{ column }} - {{ days }}){%- endif -%}
{%- endmacro %}

{% macro spark__days_before(column, days) -%}
    {%- if days == 0 -%}{{ column }}{%- else -%}date_sub({{ column }}, {{ days }}){%- endif -%}
{%- endmacro %}


{% macro days_after(column, days) -%}
    {{ return(adapter.dispatch('days_after', 'fti')(column, days)) }}
{%- endmacro %}

{% macro default__days_after(column, days) -%}({{ column }} + {{ days }}){%- endmacro %}

{% macro spark__days_after(column, days) -%}date_add({{ column }}, {{ days }}){%- endmacro %}


{#
  An as-of join clause: each row of `left` (aliased `left_alias`) meets the row of `right`
  with the same `key` and the latest `right_time` on or before the left row's `left_time`
  minus `days_before` days; `kind` is 'left' (no such row gives nulls) or 'inner'. The
  joined relation is aliased `alias` and exposes `key`, `right_time` and `columns`.

  DuckDB has ASOF JOIN. Spark SQL has none: there the distinct (key, probe time) pairs of the
  left side are put in one timeline with the right rows, ordered by time with the right rows
  first at equal times, and each probe takes the last non-null value of every column before
  it (`last_value(..., true)` over a struct of the right row's columns, so a null column is
  never filled from an older row); the left side then meets its probes with an equi-join.
  `left` must be a relation name (a CTE) the Spark version can select from.
#}
{% macro asof_join(kind, left, left_alias, left_time, right, alias, key, right_time, columns, days_before=0) -%}
    {{ return(adapter.dispatch('asof_join', 'fti')(
        kind, left, left_alias, left_time, right, alias, key, right_time, columns, days_before
    )) }}
{%- endmacro %}

{% macro duckdb__asof_join(kind, left, left_alias, left_time, right, alias, key, right_time, columns, days_before) -%}
    asof {{ kind }} join {{ right }} as {{ alias }}
        on {{ alias }}.{{ key }} = {{ left_alias }}.{{ key }}
        and {{ alias }}.{{ right_time }} <= {{ fti.days_before(left_alias ~ '.' ~ left_time, days_before) }}
{%- endmacro %}

{% macro spark__asof_join(kind, left, left_alias, left_time, right, alias, key, right_time, columns, days_before) -%}
    {%- set carried = [right_time] + columns -%}
    {{ kind }} join (
        select __key as {{ key }}, __probe
            {%- for column in carried %}, __row.{{ column }}{% endfor %}
        from (
            select
                __key,
                __time as __probe,
                __is_probe,
                last_value(__row, true) over __timeline as __row
            from (
                select {{ key }} as __key, {{ right_time }} as __time, 0 as __is_probe,
                    struct({{ carried | join(', ') }}) as __row
                from {{ right }}
                union all
                select distinct {{ key }}, {{ fti.days_before(left_time, days_before) }}, 1, null
                from {{ left }}
            )
            window __timeline as (
                partition by __key order by __time, __is_probe
                rows between unbounded preceding and current row
            )
        )
        where __is_probe = 1 {%- if kind == 'inner' %} and __row is not null{% endif %}
    ) as {{ alias }}
        on {{ alias }}.{{ key }} = {{ left_alias }}.{{ key }}
        and {{ alias }}.__probe = {{ fti.days_before(left_alias ~ '.' ~ left_time, days_before) }}
{%- endmacro %}


{#
  On Spark, the sources (and the snapshot dbt keeps beside them, in the DuckDB warehouse where
  ingestion lands) are Parquet files exported by `fti` into FTI_SPARK_SOURCES, one folder per
  relation named `<schema>.<name>`; this run-start hook points a Spark table at each. DuckDB
  reads its own tables and needs nothing.
#}
{% macro register_sources() -%}
    {{ return(adapter.dispatch('register_sources', 'fti')()) }}
{%- endmacro %}

{% macro default__register_sources() -%}{{ return('') }}{%- endmacro %}

{% macro spark__register_sources() -%}
    {%- if execute -%}
        {%- set folder = env_var('FTI_SPARK_SOURCES', '../data/spark/sources') -%}
        {%- set relations = [] -%}
        {%- for node in graph.sources.values() -%}
            {%- do relations.append((node.schema, node.identifier)) -%}
        {%- endfor -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'snapshot' -%}
            {%- do relations.append((node.schema, node.alias)) -%}
        {%- endfor -%}
        {%- for schema, name in relations | unique | list -%}
            {%- do run_query('create schema if not exists ' ~ schema) -%}
            {%- do run_query('drop table if exists ' ~ schema ~ '.' ~ name) -%}
            {%- do run_query(
                'create table ' ~ schema ~ '.' ~ name ~ " using parquet location '"
                ~ folder ~ '/' ~ schema ~ '.' ~ name ~ "'"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#
  numerator / denominator rounded to `digits` decimals, half away from zero, computed exactly:
  for integer-valued numerator >= 0 and denominator > 0 (null when the denominator is null).
  Rounding a floating quotient is not the same on both engines at ties (DuckDB scales and
  rounds the double, Spark rounds its decimal expansion), and ties are common here: the
  average of cent amounts over two purchases ends in 5 half the time. Integers below 2^53 are
  exact in a double, so the floor below is the exact one.
#}
{% macro round_ratio(numerator, denominator, digits) -%}
    (floor(
        (2e0 * ({{ numerator }}) * {{ 10 ** digits }} + ({{ denominator }}))
        / (2e0 * ({{ denominator }}))
    ) / {{ 10 ** digits }})
{%- endmacro %}


{# A model's rows stored in `column` order, so that DuckDB's per-row-group min/max lets a scan
   of one value (scoring's latest snapshot) skip the rest of the table. Spark writes files
   per partition and keeps no such order worth a global sort. #}
{% macro stored_in_order_of(column) -%}
    {{ return(adapter.dispatch('stored_in_order_of', 'fti')(column)) }}
{%- endmacro %}

{% macro default__stored_in_order_of(column) -%}order by {{ column }}{%- endmacro %}

{% macro spark__stored_in_order_of(column) -%}{%- endmacro %}
