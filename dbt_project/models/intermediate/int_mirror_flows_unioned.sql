-- Partner-side (mirror) rows of each reporter i in {RUS, KAZ} and partner j, from i's
-- point of view: mirror_flow 'X' = j's imports from i (mirrors i's exports), 'M' =
-- j's exports to i. For the RUS-KAZ pair the other national feed, as it is (f = 1);
-- otherwise the Comtrade leaf rows of reporter j. mirror_value_fob_usd converts CIF
-- to FOB per row (cifvalue / f), f = cif_fob_factor (1.00 within the EAEU).
-- Incremental: rebuilds the changed months only (macros/changed_periods.sql).
{{ config(materialized='incremental', unique_key='period_month',
          indexes=[{'columns': ['period_month']}]) }}
-- depends_on: {{ ref('int_periods_changed') }}
with

national as (

    select * from {{ ref('int_trade_flows_harmonised') }}
    where {{ corridor_changed_periods() }}

),

comtrade as (

    select * from {{ ref('stg_comtrade__mirror_rows') }}
    where {{ corridor_changed_periods() }}

),

countries as (

    select iso3, is_eaeu from {{ ref('ref_countries') }}

),

national_mirror as (

    select
        -- a mirror row per source row: the key of the row it mirrors
        trade_flow_key as mirror_flow_key,
        partner_iso3 as reporter_iso3,
        reporter_iso3 as partner_iso3,
        period_month,
        case flow when 'M' then 'X' when 'X' then 'M' end as mirror_flow,
        hs6_code,
        hs_chapter,
        trade_value_usd as mirror_value_usd,
        trade_value_usd as mirror_value_fob_usd,
        'NATIONAL'::text as mirror_value_basis,
        1.00::numeric as cif_fob_factor,
        source_feed as mirror_source_feed
    from national
    where reporter_iso3 in {{ reporter_iso3s() }}
        and partner_iso3 in {{ reporter_iso3s() }}
        and partner_iso3 <> reporter_iso3

),

comtrade_mirror as (

    select
        'comtrade|' || comtrade.comtrade_row_key as mirror_flow_key,
        comtrade.partner_iso3 as reporter_iso3,
        comtrade.reporter_iso3 as partner_iso3,
        comtrade.period_month,
        case comtrade.flow when 'M' then 'X' when 'X' then 'M' end as mirror_flow,
        comtrade.hs6_code,
        comtrade.hs_chapter,
        comtrade.mirror_value_usd,
        case
            when comtrade.mirror_value_basis = 'CIF'
                then comtrade.mirror_value_usd
                    / {{ cif_fob_factor('i.is_eaeu', 'j.is_eaeu') }}
            else comtrade.mirror_value_usd
        end as mirror_value_fob_usd,
        comtrade.mirror_value_basis,
        {{ cif_fob_factor('i.is_eaeu', 'j.is_eaeu') }} as cif_fob_factor,
        'comtrade'::text as mirror_source_feed
    from comtrade
    inner join countries as i on i.iso3 = comtrade.partner_iso3
    inner join countries as j on j.iso3 = comtrade.reporter_iso3
    where comtrade.partner_iso3 in {{ reporter_iso3s() }}
        -- the RUS-KAZ pair is mirrored from the national feeds only
        and comtrade.reporter_iso3 not in {{ reporter_iso3s() }}
        and comtrade.flow in ('M', 'X')

),

unioned as (

    select * from national_mirror
    union all
    select * from comtrade_mirror

)

select * from unioned
