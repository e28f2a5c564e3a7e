-- Both reporters' own customs rows in one shape (USD, kg, ISO3), newest revision
-- of each month, ingest window only. Raw holds accepted rows only.
-- Incremental by period_month: only months whose loaded units changed are rebuilt
-- (macros/incremental_periods.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    indexes=[{'columns': ['period_month', 'period_fingerprint']}],
    pre_hook=[
        "{{ corridor_hash_joins_only() }}",
        "{{ corridor_delete_stale_periods(corridor_period_fingerprints(['ru_customs', 'kz_customs']), ['period_month']) }}"
    ],
    post_hook=["{{ corridor_ensure_fingerprint_index(['period_month']) }}"]
) }}
with

affected as (

    {{ corridor_affected_keys(corridor_period_fingerprints(['ru_customs', 'kz_customs']), ['period_month']) }}

),

ru_rows as (

    select * from {{ ref('stg_ru_customs__trade_rows') }}
    where period_month {{ corridor_in_periods("period_month", "affected") }}

),

kz_rows as (

    select * from {{ ref('stg_kz_customs__trade_rows') }}
    where period_month {{ corridor_in_periods("period_month", "affected") }}

),

periods as (

    select period_month, period_fingerprint from affected

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
        ) as newest_revision,
        periods.period_fingerprint
    from unioned
    inner join periods on periods.period_month = unioned.period_month

)

select
    reporter_iso3, partner_iso3, is_partner_undisclosed, period_month, flow,
    hs6_code, hs_chapter, tnved_code, trade_value_usd, net_weight_kg, transport_mode,
    source_feed, source_revision, source_status, source_row_number, period_fingerprint
from newest
where source_revision = newest_revision
