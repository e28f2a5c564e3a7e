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

customs as (

    select
        feed,
        case feed when 'ru_customs' then 'RUS' when 'kz_customs' then 'KAZ' end as reporter_iso3,
        period_month,
        revision as source_revision,
        status as source_status,
        -- a unit is provisional when its newest status is preliminary
        is_preliminary as is_provisional

    from loaded_units
    where feed in ('ru_customs', 'kz_customs')

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
