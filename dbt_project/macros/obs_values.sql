{#- Decimals of a published value by unit_measure (spec/indicators.md). -#}
{% macro obs_decimals(unit_expr) -%}
    case {{ unit_expr }}
        when 'USD' then 2
        when 'PCT' then 4
        when 'IDX' then 4
        when 'T' then 3
        when 'H' then 2
        when 'NUM' then 0
        when 'TEU' then 0
    end
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
