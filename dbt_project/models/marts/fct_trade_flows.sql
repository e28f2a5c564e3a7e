-- Harmonised customs rows of both reporters (USD, kg, ISO3), ingest window.
-- Incremental by period_month (macros/incremental_periods.sql); the fingerprint
-- includes is_published, so a window change rebuilds the months it flips.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    indexes=[{'columns': ['period_month', 'period_fingerprint']}],
    pre_hook=[
        "{{ corridor_hash_joins_only() }}",
        "{{ corridor_delete_stale_periods(corridor_period_fingerprints(['ru_customs', 'kz_customs'], with_published=true), ['period_month']) }}"
    ],
    post_hook=["{{ corridor_ensure_fingerprint_index(['period_month']) }}"]
) }}
with

affected as (

    {{ corridor_affected_keys(corridor_period_fingerprints(['ru_customs', 'kz_customs'], with_published=true), ['period_month']) }}

)

select
    flows.reporter_iso3, flows.partner_iso3, flows.is_partner_undisclosed, flows.period_month,
    flows.flow, flows.hs6_code, flows.hs_chapter, flows.tnved_code, flows.trade_value_usd,
    flows.net_weight_kg, flows.transport_mode, flows.source_feed, flows.source_revision,
    flows.source_status, flows.source_row_number,
    periods.is_published,
    affected.period_fingerprint
from {{ ref('int_trade_flows_harmonised') }} as flows
inner join affected using (period_month)
inner join {{ ref('int_periods_enumerated') }} as periods using (period_month)
-- the affected months through the index, not a hash join over every held month
where flows.period_month {{ corridor_in_periods("period_month", "affected") }}
