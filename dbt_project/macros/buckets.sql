{#
  Building a model in customer buckets, so that its working set fits DuckDB's memory limit.

  The feature timeline and the labels join customers x snapshot dates (220M rows at 50M
  transactions) through as-of lookups that sort both sides. One statement over all of it spills
  about twelve times the memory limit to disk (more than this machine's free disk at 50M);
  the same SQL over a slice of the customers at a time fits in memory. Customers never meet
  each other in these models, so the slices' rows together are exactly the one statement's.

  A bucketed model filters each of its customer-keyed inputs with `fti.in_bucket(...)` and
  takes two hooks: `fti.start_buckets(...)` before it (how many buckets its estimated size
  needs) and `fti.build_other_buckets()` after it. The materialization builds bucket 0 as it
  builds any model; the post-hook appends buckets 1..n-1 with the same compiled SQL, all inside
  the model's transaction. The bucket is a DuckDB variable, so the SQL is compiled once; with
  the variable unset (`dbt show`, `dbt compile` pasted into a console) every customer passes.
  On Spark, which partitions on its own, there are no buckets.
#}

{% macro in_bucket(key) -%}
    {{ return(adapter.dispatch('in_bucket', 'fti')(key)) }}
{%- endmacro %}

{% macro default__in_bucket(key) -%}
    (coalesce(getvariable('fti_buckets'), 1) = 1
        or {{ key }} % getvariable('fti_buckets') = getvariable('fti_bucket'))
{%- endmacro %}

{% macro spark__in_bucket(key) -%}true{%- endmacro %}


{#
  Pre-hook: sets the bucket count for a model whose working set is about `bytes_per_row` per
  row of `rows_sql` (a query returning one number, e.g. customer_snapshot_rows()): as many
  buckets as keep each within half the memory limit (var bucket_memory_share), at least one.
  The bytes per row are measured: customer_features in one statement at 10M filled its 5GB
  limit and spilled 6.2 GB for 44M rows, about 250 bytes a row (bench/RESULTS.md).
#}
{% macro start_buckets(rows_sql, bytes_per_row) -%}
    {{ return(adapter.dispatch('start_buckets', 'fti')(rows_sql, bytes_per_row)) }}
{%- endmacro %}

{% macro default__start_buckets(rows_sql, bytes_per_row) -%}
    {%- if execute -%}
        {%- set sized = run_query(
            'select ceil((' ~ rows_sql ~ ') * ' ~ bytes_per_row ~ ' / ('
            ~ fti.memory_limit_bytes() ~ ' * ' ~ var('bucket_memory_share') ~ '))'
        ) -%}
        {%- set buckets = [sized.columns[0].values()[0] | int, 1] | max -%}
        {%- do log(this ~ ': ' ~ buckets ~ ' customer bucket(s)', info=buckets > 1) -%}
        set variable fti_buckets = {{ buckets }}; set variable fti_bucket = 0
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro spark__start_buckets(rows_sql, bytes_per_row) -%}select 1{%- endmacro %}


{# Customers x their snapshot dates (from their first purchase, and from incremental_from
   on): the rows of a feature timeline, counted per first-purchase date. #}
{% macro customer_snapshot_rows() -%}
    {%- set start = incremental_from() -%}
    select coalesce(sum(c.customers), 0)
    from (
        select first_purchase_date, count(*) as customers
        from {{ ref('stg_customers') }}
        group by first_purchase_date
    ) as c
    inner join {{ ref('feature_snapshot_dates') }} as s
        on s.as_of_date >= c.first_purchase_date
    {%- if start is not none %} and s.as_of_date >= date '{{ start }}'{% endif %}
{%- endmacro %}


{# Post-hook: appends buckets 1..n-1 to the model's table and unsets the bucket. #}
{% macro build_other_buckets() -%}
    {{ return(adapter.dispatch('build_other_buckets', 'fti')()) }}
{%- endmacro %}

{% macro default__build_other_buckets() -%}
    {%- if execute -%}
        {%- set buckets = run_query("select getvariable('fti_buckets')").columns[0].values()[0] -%}
        {%- for bucket in range(1, buckets | int) %}
        set variable fti_bucket = {{ bucket }};
        insert into {{ this }} by name ({{ model.compiled_code }});
        {%- endfor %}
        reset variable fti_bucket; reset variable fti_buckets
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro spark__build_other_buckets() -%}select 1{%- endmacro %}


{# DuckDB's memory limit in bytes, as a SQL expression (the setting reads like '4.6 GiB'). #}
{% macro memory_limit_bytes() -%}
    (select cast(regexp_extract(value, '^[0-9.]+') as double) * case
        regexp_extract(value, '[A-Za-z]+$')
        when 'KiB' then 1024 when 'MiB' then 1024 ^ 2 when 'GiB' then 1024 ^ 3
        when 'TiB' then 1024 ^ 4 when 'KB' then 1e3 when 'MB' then 1e6 when 'GB' then 1e9
        when 'TB' then 1e12 else 1 end
     from duckdb_settings() where name = 'memory_limit')
{%- endmacro %}
