-- Harmonised customs rows of both reporters (USD, kg, ISO3), ingest window.
-- Incremental: rebuilds the changed months only (macros/changed_periods.sql); a month's
-- inputs include is_published, so a window move rebuilds the months it flips.
{{ config(materialized='incremental', unique_key='period_month',
          indexes=[{'columns': ['period_month']}]) }}
-- depends_on: {{ ref('int_periods_changed') }}
select
    flows.trade_flow_key,
    flows.reporter_iso3, flows.partner_iso3, flows.is_partner_undisclosed, flows.period_month,
    flows.flow, flows.hs6_code, flows.hs_chapter, flows.tnved_code, flows.trade_value_usd,
    flows.net_weight_kg, flows.transport_mode, flows.source_feed, flows.source_revision,
    flows.source_status, flows.source_row_number,
    {{ is_published_period("'M'", 'flows.period_month') }} as is_published
from {{ ref('int_trade_flows_harmonised') }} as flows
where {{ corridor_changed_periods(relation='flows') }}
