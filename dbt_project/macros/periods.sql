{#- Period helpers. Periods are 'YYYY-MM' text throughout the project. -#}

{#- The first ingested month: var('yoy_base_months') (12) before the first published one. -#}
{% macro ingest_from() -%}
    {{ return(corridor_month_add(var('period_from'), -(var('yoy_base_months') | int))) }}
{%- endmacro %}

{#- Shift a 'YYYY-MM' literal by n months, at compile time. -#}
{% macro corridor_month_add(period_month, months) -%}
    {%- set year = period_month[0:4] | int -%}
    {%- set month = period_month[5:7] | int -%}
    {%- set index = year * 12 + month - 1 + months -%}
    {{ return("%04d-%02d" | format(index // 12, index % 12 + 1)) }}
{%- endmacro %}

{#- SQL: shift a 'YYYY-MM' column/expression by n months. -#}
{% macro month_shift(period_expr, months) -%}
    to_char(to_date({{ period_expr }}, 'YYYY-MM') + interval '{{ months }} months', 'YYYY-MM')
{%- endmacro %}
