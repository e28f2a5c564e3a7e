{#- Generic column test on an indicator mart: every (indicator, unit_measure) is a row
    of the indicator catalogue (seed ref_indicators) for that dataset. A relationships
    test to the seed, on the unit too and within the dataset. -#}
{% test indicator_in_catalogue(model, column_name, dataset, unit_column='unit_measure') %}
select observations.{{ column_name }}, observations.{{ unit_column }}, count(*) as n_rows
from {{ model }} as observations
where not exists (
    select 1
    from {{ ref('ref_indicators') }} as catalogue
    where catalogue.indicator = observations.{{ column_name }}
      and catalogue.unit_measure = observations.{{ unit_column }}
      and catalogue.dataset = '{{ dataset }}'
)
group by observations.{{ column_name }}, observations.{{ unit_column }}
{% endtest %}
