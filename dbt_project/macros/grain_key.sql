{#- A model's grain as one text key: the columns' values joined by '|' (format() renders
    a null as ''). The primary key that dbt-project-evaluator's default rule recognises
    (unique + not_null on one column) for a grain of several columns; none of the
    grain's codes, months or numbers contains '|'. -#}
{% macro grain_key(columns) -%}
    format('{{ (["%s"] * (columns | length)) | join("|") }}', {{ columns | join(', ') }})
{%- endmacro %}
