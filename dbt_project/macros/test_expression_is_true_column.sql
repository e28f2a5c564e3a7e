{#- Generic column test: "<column> <expression>" holds on every non-null row. -#}
{% test expression_is_true_column(model, column_name, expression) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and not coalesce(({{ column_name }} {{ expression }}), false)
{% endtest %}
