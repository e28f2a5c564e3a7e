{#- Decimals of a published value by unit_measure (spec/indicators.md), from the
    indicator catalogue (seed ref_indicators), read in the database when the model
    runs: the seed is the one place that lists them. The spec fixes decimals by unit;
    tests/assert_indicator_decimals_follow_their_unit.sql checks the catalogue agrees. -#}
{% macro obs_decimals(unit_expr) -%}
    {#- the catalogue's columns renamed, so that an unqualified unit_expr is the caller's -#}
    (select max(catalogue.catalogue_decimals)
     from (select unit_measure as catalogue_unit, decimals as catalogue_decimals
           from {{ ref('ref_indicators') }}) as catalogue
     where catalogue.catalogue_unit = {{ unit_expr }})
{%- endmacro %}

{#- Round once, at output, half away from zero: PostgreSQL round(numeric, int)
    rounds half away from zero; "+ 0" folds a negative zero that numeric never
    produces anyway. The value must already be numeric (never float). -#}
{% macro round_obs(value_expr, unit_expr) -%}
    round(({{ value_expr }})::numeric, {{ obs_decimals(unit_expr) }})
{%- endmacro %}

{#- The partner code of undisclosed trade (RU 'XX', KZ '000') after harmonisation:
    it counts in W00 and is never a partner of its own. -#}
{% macro undisclosed_partner() -%}
    '_X'
{%- endmacro %}

{#- The CIF/FOB factor f of a pair (spec/indicators.md): 1.00 when both are EAEU
    members (no customs border between them), 1.06 otherwise (IMF DOTS). -#}
{% macro cif_fob_factor(reporter_is_eaeu, partner_is_eaeu) -%}
    (case when {{ reporter_is_eaeu }} and {{ partner_is_eaeu }} then 1.00 else 1.06 end)::numeric
{%- endmacro %}
