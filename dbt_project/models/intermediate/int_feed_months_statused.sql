-- Loaded customs and mirror units per (feed, reporter, month) and whether each is
-- provisional: the inputs of obs_status for the bilateral indicators.
with

loaded_units as (

    select * from {{ ref('stg_raw__loaded_units') }}

),

comtrade_reporting as (

    select * from {{ ref('stg_comtrade__reporting') }}

),

periods as (

    select period_month from {{ ref('int_periods_enumerated') }}

),

reporters as (

    select iso3, customs_feed from {{ ref('ref_reporters') }}

),

customs as (

    select
        loaded_units.feed,
        reporters.iso3 as reporter_iso3,
        loaded_units.period_month,
        loaded_units.revision as source_revision,
        loaded_units.status as source_status,
        -- a unit is provisional when its newest status is preliminary
        loaded_units.is_preliminary as is_provisional

    from loaded_units
    inner join reporters on reporters.customs_feed = loaded_units.feed

),

comtrade as (

    -- a partner has reported month t iff the TOTAL probe returned rows;
    -- Comtrade units count as final
    select
        'comtrade'::text as feed,
        reporter_iso3,
        period_month,
        null::integer as source_revision,
        'final'::text as source_status,
        false as is_provisional

    from comtrade_reporting
    where has_reported

),

unioned as (

    select * from customs
    union all
    select * from comtrade

)

select
    {{ grain_key(['unioned.feed', 'unioned.reporter_iso3', 'unioned.period_month']) }}
    as feed_month_key,
    unioned.*
from unioned
inner join periods on periods.period_month = unioned.period_month
