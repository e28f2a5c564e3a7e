{{ config(contract={'enforced': true}) }}
-- DF_BILATERAL_TRADE: one row per published observation, columns of the plain CSV.
-- Every value is computed from unrounded sums and rounded once, here.
with

cells as (

    select * from {{ ref('int_trade_cells_aggregated') }}

),

mirror as (

    select * from {{ ref('int_mirror_cells_aggregated') }}

),

periods as (

    select * from {{ ref('int_periods_enumerated') }}

),

published_periods as (

    select distinct 'M'::text as freq, period_month as time_period
    from periods where is_published
    union
    select distinct 'A'::text as freq, period_year::text as time_period
    from periods where is_year_published

),

-- '_T' cells that carry indicators: W00 always, a partner only while it is one
totals as (

    select cells.*
    from cells
    inner join published_periods using (freq, time_period)
    where cells.commodity = '_T' and (cells.is_world or cells.is_partner)

),

bases as (

    -- the same cell one year earlier (monthly: same month; annual: previous year)
    select
        totals.freq, totals.reporter_iso3, totals.counterpart_area, totals.time_period,
        base.x_usd as base_x_usd,
        base.m_usd as base_m_usd,
        base.is_provisional as base_is_provisional
    from totals
    inner join cells as base
        on base.freq = totals.freq
        and base.reporter_iso3 = totals.reporter_iso3
        and base.counterpart_area = totals.counterpart_area
        and base.commodity = '_T'
        and base.time_period = case
            when totals.freq = 'M' then {{ month_shift('totals.time_period', -12) }}
            else (totals.time_period::integer - 1)::text
        end

),

world_totals as (

    select freq, reporter_iso3, time_period, x_usd + m_usd as turnover_usd
    from totals
    where is_world

),

observations as (

    select freq, reporter_iso3, counterpart_area, 'X_USD' as indicator, '_T' as commodity,
        time_period, x_usd as obs_value, 'USD' as unit_measure, is_provisional
    from totals
    union all
    select freq, reporter_iso3, counterpart_area, 'M_USD', '_T',
        time_period, m_usd, 'USD', is_provisional
    from totals
    union all
    select freq, reporter_iso3, counterpart_area, 'TURNOVER_USD', '_T',
        time_period, x_usd + m_usd, 'USD', is_provisional
    from totals
    union all
    select freq, reporter_iso3, counterpart_area, 'BALANCE_USD', '_T',
        time_period, x_usd - m_usd, 'USD', is_provisional
    from totals

    -- year on year: omitted when the base is 0 or its period was not loaded
    union all
    select totals.freq, totals.reporter_iso3, totals.counterpart_area, 'X_YOY_PCT', '_T',
        totals.time_period, 100 * (totals.x_usd / bases.base_x_usd - 1), 'PCT',
        totals.is_provisional or bases.base_is_provisional
    from totals
    inner join bases using (freq, reporter_iso3, counterpart_area, time_period)
    where bases.base_x_usd <> 0
    union all
    select totals.freq, totals.reporter_iso3, totals.counterpart_area, 'M_YOY_PCT', '_T',
        totals.time_period, 100 * (totals.m_usd / bases.base_m_usd - 1), 'PCT',
        totals.is_provisional or bases.base_is_provisional
    from totals
    inner join bases using (freq, reporter_iso3, counterpart_area, time_period)
    where bases.base_m_usd <> 0
    union all
    select totals.freq, totals.reporter_iso3, totals.counterpart_area, 'TURNOVER_YOY_PCT', '_T',
        totals.time_period,
        100 * ((totals.x_usd + totals.m_usd) / (bases.base_x_usd + bases.base_m_usd) - 1), 'PCT',
        totals.is_provisional or bases.base_is_provisional
    from totals
    inner join bases using (freq, reporter_iso3, counterpart_area, time_period)
    where bases.base_x_usd + bases.base_m_usd <> 0

    -- partner share of the reporter's turnover with the world
    union all
    select totals.freq, totals.reporter_iso3, totals.counterpart_area, 'PARTNER_SHARE_PCT', '_T',
        totals.time_period, 100 * (totals.x_usd + totals.m_usd) / world_totals.turnover_usd, 'PCT',
        totals.is_provisional
    from totals
    inner join world_totals using (freq, reporter_iso3, time_period)
    where totals.is_partner and world_totals.turnover_usd <> 0

    -- concentration and intra-industry trade
    union all
    select freq, reporter_iso3, counterpart_area, 'HHI_X', '_T',
        time_period, hhi_x, 'IDX', is_provisional
    from totals
    where hhi_x is not null and x_usd > 0
    union all
    select freq, reporter_iso3, counterpart_area, 'GL_IIT', '_T',
        time_period, gl_iit, 'IDX', is_provisional
    from totals
    where gl_iit is not null

    -- flows by HS chapter: only where that flow is > 0
    union all
    select cells.freq, cells.reporter_iso3, cells.counterpart_area, 'X_USD', cells.commodity,
        cells.time_period, cells.x_usd, 'USD', cells.is_provisional
    from cells
    inner join published_periods using (freq, time_period)
    where cells.commodity <> '_T' and (cells.is_world or cells.is_partner) and cells.x_usd > 0
    union all
    select cells.freq, cells.reporter_iso3, cells.counterpart_area, 'M_USD', cells.commodity,
        cells.time_period, cells.m_usd, 'USD', cells.is_provisional
    from cells
    inner join published_periods using (freq, time_period)
    where cells.commodity <> '_T' and (cells.is_world or cells.is_partner) and cells.m_usd > 0

    -- mirror flows: partners only, omitted unless j reported t (all 12 months for A);
    -- status from the mirror source only
    union all
    select totals.freq, totals.reporter_iso3, totals.counterpart_area, 'MIRROR_X_USD', '_T',
        totals.time_period, mirror.mirror_x_usd, 'USD', mirror.is_provisional
    from totals
    inner join mirror
        on mirror.freq = totals.freq
        and mirror.reporter_iso3 = totals.reporter_iso3
        and mirror.partner_iso3 = totals.counterpart_area
        and mirror.time_period = totals.time_period
    where totals.is_partner
    union all
    select totals.freq, totals.reporter_iso3, totals.counterpart_area, 'MIRROR_M_USD', '_T',
        totals.time_period, mirror.mirror_m_usd, 'USD', mirror.is_provisional
    from totals
    inner join mirror
        on mirror.freq = totals.freq
        and mirror.reporter_iso3 = totals.reporter_iso3
        and mirror.partner_iso3 = totals.counterpart_area
        and mirror.time_period = totals.time_period
    where totals.is_partner

    -- asymmetries, FOB basis; omitted when the denominator is 0; status of both sides
    union all
    select totals.freq, totals.reporter_iso3, totals.counterpart_area, 'ASYM_X_PCT', '_T',
        totals.time_period,
        100 * (totals.x_usd - mirror.mirror_x_fob_usd)
            / ((totals.x_usd + mirror.mirror_x_fob_usd) / 2),
        'PCT', totals.is_provisional or mirror.is_provisional
    from totals
    inner join mirror
        on mirror.freq = totals.freq
        and mirror.reporter_iso3 = totals.reporter_iso3
        and mirror.partner_iso3 = totals.counterpart_area
        and mirror.time_period = totals.time_period
    where totals.is_partner and totals.x_usd + mirror.mirror_x_fob_usd <> 0
    union all
    select totals.freq, totals.reporter_iso3, totals.counterpart_area, 'ASYM_M_PCT', '_T',
        totals.time_period,
        100 * (totals.m_usd / mirror.cif_fob_factor - mirror.mirror_m_usd)
            / ((totals.m_usd / mirror.cif_fob_factor + mirror.mirror_m_usd) / 2),
        'PCT', totals.is_provisional or mirror.is_provisional
    from totals
    inner join mirror
        on mirror.freq = totals.freq
        and mirror.reporter_iso3 = totals.reporter_iso3
        and mirror.partner_iso3 = totals.counterpart_area
        and mirror.time_period = totals.time_period
    where totals.is_partner and totals.m_usd / mirror.cif_fob_factor + mirror.mirror_m_usd <> 0

),

final as (

    select
        freq::text as freq,
        reporter_iso3::text as ref_area,
        counterpart_area::text as counterpart_area,
        indicator::text as indicator,
        commodity::text as commodity,
        time_period::text as time_period,
        {{ round_obs('obs_value', 'unit_measure') }} as obs_value,
        unit_measure::text as unit_measure,
        (case when is_provisional then 'P' else 'A' end)::text as obs_status
    from observations

)

select * from final
