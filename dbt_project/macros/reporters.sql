{#- The reporters of the bilateral indicators and their customs feeds: the seed
    ref_reporters, the one list (Python reads it as corridor.reference.reporters). Each
    macro is a subquery, for `in`: reporter_iso3s() their ISO3 codes, customs_feeds()
    their customs feeds. -#}
{% macro reporter_iso3s() -%}
    (select reporter_seed.iso3 from {{ ref('ref_reporters') }} as reporter_seed)
{%- endmacro %}

{% macro customs_feeds() -%}
    (select reporter_seed.customs_feed from {{ ref('ref_reporters') }} as reporter_seed)
{%- endmacro %}
