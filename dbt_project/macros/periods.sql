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

{#- SQL: whether a (freq, time_period) cell is published: freq M, a month of the
    published window; freq A, a year whose 12 months all lie in it. -#}
{% macro is_published_period(freq, time_period) -%}
    {%- set period_from, period_to = var('period_from'), var('period_to') -%}
    {%- set first_year = period_from[0:4] | int + (0 if period_from[5:7] == '01' else 1) -%}
    {%- set last_year = period_to[0:4] | int - (0 if period_to[5:7] == '12' else 1) -%}
    (({{ freq }} = 'M' and {{ time_period }} between '{{ period_from }}' and '{{ period_to }}')
        or ({{ freq }} = 'A' and {{ time_period }} between '{{ first_year }}' and '{{ last_year }}'))
{%- endmacro %}
