{#- Models land in the plain custom schema (staging, intermediate, marts; seeds in
    reference), not dbt's default "<target schema>_<custom>"; without a custom
    schema they use the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
