-- Mirror sums per (freq, reporter i, partner j, time_period), only where j has
-- reported: j's national feed month loaded (RUS-KAZ pair) or Comtrade's probe says
-- j reported month t. A reported month without rows for i gives 0. freq A only
-- when j reported all 12 months. is_provisional: the mirror source's units only.
-- Incremental: rebuilds the cells of the changed months and of their years
-- (macros/changed_periods.sql), from every month of those years.
{{ config(materialized='incremental', unique_key=['freq', 'time_period'],
          indexes=[{'columns': ['time_period', 'freq']}]) }}
-- depends_on: {{ ref('int_periods_changed') }}
with

mirror_rows as (

    select * from {{ ref('int_mirror_flows_unioned') }}
    where {{ corridor_changed_periods(whole_years=true) }}

),

feed_months as (

    select * from {{ ref('int_feed_months_statused') }}
    where {{ corridor_changed_periods(whole_years=true) }}

),

countries as (

    select iso3, is_eaeu from {{ ref('ref_countries') }}

),

reporters as (

    select iso3 as reporter_iso3 from countries where iso3 in {{ reporter_iso3s() }}

),

available_months as (

    -- (i, j, t) where j has reported t in the feed that mirrors i
    select
        reporters.reporter_iso3,
        feed_months.reporter_iso3 as partner_iso3,
        feed_months.period_month,
        feed_months.feed as mirror_source_feed,
        feed_months.is_provisional
    from feed_months
    cross join reporters
    where (
        feed_months.feed in {{ customs_feeds() }}
        and feed_months.reporter_iso3 <> reporters.reporter_iso3
    ) or (
        feed_months.feed = 'comtrade'
        and feed_months.reporter_iso3 not in {{ reporter_iso3s() }}
    )

),

available_periods as (

    select
        'M'::text as freq, reporter_iso3, partner_iso3, period_month as time_period,
        mirror_source_feed, is_provisional
    from available_months

    union all

    select
        'A'::text as freq, reporter_iso3, partner_iso3, left(period_month, 4) as time_period,
        min(mirror_source_feed) as mirror_source_feed, bool_or(is_provisional) as is_provisional
    from available_months
    group by reporter_iso3, partner_iso3, left(period_month, 4)
    having count(*) = 12

),

rows_tagged as (

    select 'M'::text as freq, period_month as time_period, mirror_rows.* from mirror_rows
    union all
    select 'A'::text as freq, left(period_month, 4) as time_period, mirror_rows.* from mirror_rows

),

sums as (

    select
        freq, reporter_iso3, partner_iso3, time_period,
        sum(case when mirror_flow = 'X' then mirror_value_usd else 0 end) as mirror_x_usd,
        sum(case when mirror_flow = 'X' then mirror_value_fob_usd else 0 end) as mirror_x_fob_usd,
        sum(case when mirror_flow = 'M' then mirror_value_usd else 0 end) as mirror_m_usd
    from rows_tagged
    group by 1, 2, 3, 4

)

select
    {{ grain_key(['available_periods.freq', 'available_periods.reporter_iso3',
                  'available_periods.partner_iso3', 'available_periods.time_period']) }}
    as mirror_cell_key,
    available_periods.freq,
    available_periods.reporter_iso3,
    available_periods.partner_iso3,
    available_periods.time_period,
    coalesce(sums.mirror_x_usd, 0) as mirror_x_usd,
    coalesce(sums.mirror_x_fob_usd, 0) as mirror_x_fob_usd,
    coalesce(sums.mirror_m_usd, 0) as mirror_m_usd,
    -- the CIF/FOB factor of the pair (macros/obs_values.sql)
    {{ cif_fob_factor('i.is_eaeu', 'j.is_eaeu') }} as cif_fob_factor,
    available_periods.mirror_source_feed,
    available_periods.is_provisional
from available_periods
inner join countries as i on i.iso3 = available_periods.reporter_iso3
inner join countries as j on j.iso3 = available_periods.partner_iso3
left join sums
    on sums.freq = available_periods.freq
        and sums.reporter_iso3 = available_periods.reporter_iso3
        and sums.partner_iso3 = available_periods.partner_iso3
        and sums.time_period = available_periods.time_period
where {{ corridor_changed_periods(['freq', 'time_period'], relation='available_periods') }}
