-- Both reporters' own customs rows in one shape (USD, kg, ISO3), newest revision
-- of each month, ingest window only. Raw holds accepted rows only.
-- Incremental: rebuilds the changed months only (macros/changed_periods.sql).
{{ config(materialized='incremental', unique_key='period_month',
          indexes=[{'columns': ['period_month']}]) }}
-- depends_on: {{ ref('int_periods_changed') }}
with

ru_rows as (

    select * from {{ ref('stg_ru_customs__trade_rows') }}
    where {{ corridor_changed_periods() }}

),

kz_rows as (

    select * from {{ ref('stg_kz_customs__trade_rows') }}
    where {{ corridor_changed_periods() }}

),

unioned as (

    select
        reporter_iso3, partner_iso3, is_partner_undisclosed, period_month, flow,
        hs6_code, hs_chapter, tnved_code, trade_value_usd, net_weight_kg,
        null::text as transport_mode,
        'ru_customs'::text as source_feed,
        source_revision, source_status, row_number as source_row_number
    from ru_rows

    union all

    select
        reporter_iso3, partner_iso3, is_partner_undisclosed, period_month, flow,
        hs6_code, hs_chapter, tnved_code, trade_value_usd, net_weight_kg,
        transport_mode,
        'kz_customs'::text as source_feed,
        source_revision, source_status, row_number as source_row_number
    from kz_rows

),

newest as (

    -- the highest revision of a unit replaces it completely
    select
        unioned.*,
        max(unioned.source_revision) over (
            partition by unioned.source_feed, unioned.period_month
        ) as newest_revision
    from unioned

)

select
    {{ grain_key(['source_feed', 'period_month', 'source_row_number']) }} as trade_flow_key,
    reporter_iso3, partner_iso3, is_partner_undisclosed, period_month, flow,
    hs6_code, hs_chapter, tnved_code, trade_value_usd, net_weight_kg, transport_mode,
    source_feed, source_revision, source_status, source_row_number
from newest
where source_revision = newest_revision
