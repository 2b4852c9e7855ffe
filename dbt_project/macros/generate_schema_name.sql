{# Use the custom schema name as is (staging, features, training) so analysts query stable
   names such as features.customer_features, not main_features.customer_features. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
