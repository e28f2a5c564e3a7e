-- Reporter-side sums per cell (freq, reporter, counterpart, commodity, time_period),
-- unrounded. freq M: every loaded month of the reporter's feed; freq A: every year
-- whose 12 months are all loaded (annual sums, never sums of rounded months).
-- counterpart_area: each disclosed partner with any row, and W00 = all rows incl.
-- undisclosed. commodity: '_T' or the HS chapter. hhi_x and gl_iit on '_T' rows.
-- Incremental: rebuilds the cells of the changed months and of their years
-- (macros/changed_periods.sql), from every month of those years.
{{ config(materialized='incremental', unique_key=['freq', 'time_period'],
          indexes=[{'columns': ['time_period', 'freq']}]) }}
-- depends_on: {{ ref('int_periods_changed') }}
with

flows as (

    select * from {{ ref('int_trade_flows_harmonised') }}
    where {{ corridor_changed_periods(whole_years=true) }}

),

units as (

    select reporter_iso3, period_month, is_provisional
    from {{ ref('int_feed_months_statused') }}
    where feed in {{ customs_feeds() }}
        and {{ corridor_changed_periods(whole_years=true) }}

),

reporter_periods as (

    select
        'M'::text as freq, reporter_iso3, period_month as time_period,
        is_provisional, 1 as months_count
    from units

    union all

    select
        'A'::text as freq, reporter_iso3, left(period_month, 4) as time_period,
        bool_or(is_provisional) as is_provisional, count(*)::integer as months_count
    from units
    group by reporter_iso3, left(period_month, 4)
    having count(*) = 12

),

flows_tagged as (

    select 'M'::text as freq, period_month as time_period, flows.* from flows
    union all
    select 'A'::text as freq, left(period_month, 4) as time_period, flows.* from flows

),

hs6_by_counterpart as (

    select
        freq, reporter_iso3, partner_iso3 as counterpart_area, time_period, hs6_code, hs_chapter,
        sum(case when flow = 'X' then trade_value_usd else 0 end) as x_usd,
        sum(case when flow = 'M' then trade_value_usd else 0 end) as m_usd
    from flows_tagged
    where not is_partner_undisclosed
    group by 1, 2, 3, 4, 5, 6

    union all

    select
        freq, reporter_iso3, 'W00'::text as counterpart_area, time_period, hs6_code, hs_chapter,
        sum(case when flow = 'X' then trade_value_usd else 0 end) as x_usd,
        sum(case when flow = 'M' then trade_value_usd else 0 end) as m_usd
    from flows_tagged
    group by 1, 2, 3, 4, 5, 6

),

hs6_cells as (

    -- only complete periods (an annual cell needs all 12 months loaded)
    select hs6_by_counterpart.*
    from hs6_by_counterpart
    inner join reporter_periods using (freq, reporter_iso3, time_period)

),

chapter_cells as (

    select
        freq, reporter_iso3, counterpart_area, time_period, hs_chapter,
        sum(x_usd) as x_usd,
        sum(m_usd) as m_usd
    from hs6_cells
    group by 1, 2, 3, 4, 5

),

total_sums as (

    select
        freq, reporter_iso3, counterpart_area, time_period,
        sum(x_usd) as x_usd,
        sum(m_usd) as m_usd,
        -- Grubel-Lloyd over 6-digit codes: sum(X_k + M_k - |X_k - M_k|) / sum(X_k + M_k)
        sum(x_usd + m_usd - abs(x_usd - m_usd)) as gl_numerator,
        sum(x_usd + m_usd) as gl_denominator
    from hs6_cells
    group by 1, 2, 3, 4

),

counterparts as (

    -- W00 exists for every loaded period, even one with no rows
    select freq, reporter_iso3, 'W00'::text as counterpart_area, time_period
    from reporter_periods
    union
    select freq, reporter_iso3, counterpart_area, time_period
    from total_sums

),

total_cells as (

    select
        counterparts.freq,
        counterparts.reporter_iso3,
        counterparts.counterpart_area,
        counterparts.time_period,
        coalesce(total_sums.x_usd, 0) as x_usd,
        coalesce(total_sums.m_usd, 0) as m_usd,
        total_sums.gl_numerator,
        total_sums.gl_denominator
    from counterparts
    left join total_sums using (freq, reporter_iso3, counterpart_area, time_period)

),

hhi as (

    -- sum over chapters with X_k > 0 of (X_k / X)^2, not normalised
    select
        chapter_cells.freq, chapter_cells.reporter_iso3, chapter_cells.counterpart_area,
        chapter_cells.time_period,
        sum((chapter_cells.x_usd / total_cells.x_usd) * (chapter_cells.x_usd / total_cells.x_usd))
        as hhi_x
    from chapter_cells
    inner join total_cells using (freq, reporter_iso3, counterpart_area, time_period)
    where chapter_cells.x_usd > 0 and total_cells.x_usd > 0
    group by 1, 2, 3, 4

),

cells as (

    select
        total_cells.freq, total_cells.reporter_iso3, total_cells.counterpart_area,
        '_T'::text as commodity, total_cells.time_period,
        total_cells.x_usd, total_cells.m_usd,
        hhi.hhi_x,
        case
            when total_cells.gl_denominator > 0
                then total_cells.gl_numerator / total_cells.gl_denominator
        end as gl_iit
    from total_cells
    left join hhi using (freq, reporter_iso3, counterpart_area, time_period)

    union all

    select
        freq, reporter_iso3, counterpart_area, hs_chapter as commodity, time_period,
        x_usd, m_usd,
        null::numeric as hhi_x,
        null::numeric as gl_iit
    from chapter_cells

),

partners as (

    -- partners of (i, t): disclosed j with X > 0 or M > 0 in t
    select freq, reporter_iso3, counterpart_area, time_period
    from total_cells
    where counterpart_area <> 'W00' and (x_usd > 0 or m_usd > 0)

)

select
    {{ grain_key(['cells.freq', 'cells.reporter_iso3', 'cells.counterpart_area',
                  'cells.commodity', 'cells.time_period']) }} as trade_cell_key,
    cells.freq,
    cells.reporter_iso3,
    cells.counterpart_area,
    cells.commodity,
    cells.time_period,
    cells.x_usd,
    cells.m_usd,
    cells.hhi_x,
    cells.gl_iit,
    cells.counterpart_area = 'W00' as is_world,
    partners.counterpart_area is not null as is_partner,
    reporter_periods.is_provisional
from cells
inner join reporter_periods using (freq, reporter_iso3, time_period)
left join partners using (freq, reporter_iso3, counterpart_area, time_period)
where {{ corridor_changed_periods(['freq', 'time_period'], relation='cells') }}
