-- Partner-side rows mirroring the reporters' flows (national feed for RUS-KAZ,
-- Comtrade leaves otherwise), with the per-row FOB conversion.
-- Incremental by period_month, same fingerprints as int_mirror_flows_unioned.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    indexes=[{'columns': ['period_month', 'period_fingerprint']}],
    pre_hook=[
        "{{ corridor_hash_joins_only() }}",
        "{{ corridor_delete_stale_periods(corridor_period_fingerprints(['ru_customs', 'kz_customs', 'comtrade']), ['period_month']) }}"
    ],
    post_hook=["{{ corridor_ensure_fingerprint_index(['period_month']) }}"]
) }}
with

affected as (

    {{ corridor_affected_keys(corridor_period_fingerprints(['ru_customs', 'kz_customs', 'comtrade']), ['period_month']) }}

)

select mirror.*
from {{ ref('int_mirror_flows_unioned') }} as mirror
where mirror.period_month {{ corridor_in_periods("period_month", "affected") }}
