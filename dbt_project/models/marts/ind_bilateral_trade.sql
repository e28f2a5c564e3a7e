{{ config(contract={'enforced': true}) }}
-- DF_BILATERAL_TRADE: one row per published observation, columns of the plain CSV.
-- Every value is computed from unrounded sums and rounded once, here.
with

-- the cells that carry indicators: those of the published periods, W00 always, a
-- partner only while it is one
published_cells as (

    select * from {{ ref('int_trade_cells_aggregated') }}
    where
        {{ is_published_period('freq', 'time_period') }}
        and (is_world or is_partner)

),

world_totals as (

    select freq, reporter_iso3, time_period, x_usd + m_usd as turnover_usd
    from {{ ref('int_trade_cells_aggregated') }}
    where is_world and commodity = '_T'

),

-- every value an observation of a cell needs, on one row: a '_T' cell with its base
-- (the same cell one year earlier: monthly the same month, annual the previous year),
-- the reporter's world total and, for a partner, the mirror cell where j reported t
-- (all 12 months for A); a chapter cell with its flows only
cell_inputs as (

    select
        cell.freq, cell.reporter_iso3, cell.counterpart_area, cell.commodity, cell.time_period,
        cell.x_usd, cell.m_usd, cell.hhi_x, cell.gl_iit, cell.is_partner, cell.is_provisional,
        base.x_usd as base_x_usd,
        base.m_usd as base_m_usd,
        base.is_provisional as base_is_provisional,
        world_totals.turnover_usd as world_turnover_usd,
        mirror.freq is not null as has_mirror,
        mirror.mirror_x_usd,
        mirror.mirror_x_fob_usd,
        mirror.mirror_m_usd,
        mirror.cif_fob_factor,
        mirror.is_provisional as mirror_is_provisional
    from published_cells as cell
    left join {{ ref('int_trade_cells_aggregated') }} as base
        on cell.commodity = '_T'
            and base.commodity = '_T'
            and base.freq = cell.freq
            and base.reporter_iso3 = cell.reporter_iso3
            and base.counterpart_area = cell.counterpart_area
            and base.time_period = case
                when cell.freq = 'M' then {{ month_shift('cell.time_period', -12) }}
                else (cell.time_period::integer - 1)::text
            end
    left join world_totals
        on cell.commodity = '_T'
            and world_totals.freq = cell.freq
            and world_totals.reporter_iso3 = cell.reporter_iso3
            and world_totals.time_period = cell.time_period
    left join {{ ref('int_mirror_cells_aggregated') }} as mirror
        on cell.commodity = '_T'
            and cell.is_partner
            and mirror.freq = cell.freq
            and mirror.reporter_iso3 = cell.reporter_iso3
            and mirror.partner_iso3 = cell.counterpart_area
            and mirror.time_period = cell.time_period

),

-- one row per (cell, indicator) whose condition holds. Denominators go through nullif:
-- a VALUES row is computed before its condition filters it out.
observations as (

    select
        cell_inputs.freq, cell_inputs.reporter_iso3, cell_inputs.counterpart_area,
        observation.indicator, cell_inputs.commodity, cell_inputs.time_period,
        observation.obs_value, observation.unit_measure, observation.is_provisional
    from cell_inputs
    cross join
        lateral (
            values
            -- flows: '_T' always; by HS chapter only where that flow is > 0
            (
                'X_USD', cell_inputs.x_usd, 'USD', cell_inputs.is_provisional,
                cell_inputs.commodity = '_T' or cell_inputs.x_usd > 0
            ),
            (
                'M_USD', cell_inputs.m_usd, 'USD', cell_inputs.is_provisional,
                cell_inputs.commodity = '_T' or cell_inputs.m_usd > 0
            ),
            (
                'TURNOVER_USD', cell_inputs.x_usd + cell_inputs.m_usd, 'USD',
                cell_inputs.is_provisional, cell_inputs.commodity = '_T'
            ),
            (
                'BALANCE_USD', cell_inputs.x_usd - cell_inputs.m_usd, 'USD',
                cell_inputs.is_provisional, cell_inputs.commodity = '_T'
            ),

            -- year on year: omitted when the base is 0 or its period was not loaded
            (
                'X_YOY_PCT',
                100 * (cell_inputs.x_usd / nullif(cell_inputs.base_x_usd, 0) - 1),
                'PCT',
                cell_inputs.is_provisional or cell_inputs.base_is_provisional,
                cell_inputs.base_x_usd <> 0
            ),
            (
                'M_YOY_PCT',
                100 * (cell_inputs.m_usd / nullif(cell_inputs.base_m_usd, 0) - 1),
                'PCT',
                cell_inputs.is_provisional or cell_inputs.base_is_provisional,
                cell_inputs.base_m_usd <> 0
            ),
            (
                'TURNOVER_YOY_PCT',
                100 * (
                    (cell_inputs.x_usd + cell_inputs.m_usd)
                    / nullif(cell_inputs.base_x_usd + cell_inputs.base_m_usd, 0) - 1
                ), 'PCT',
                cell_inputs.is_provisional or cell_inputs.base_is_provisional,
                cell_inputs.base_x_usd + cell_inputs.base_m_usd <> 0
            ),

            -- partner share of the reporter's turnover with the world
            (
                'PARTNER_SHARE_PCT',
                100 * (cell_inputs.x_usd + cell_inputs.m_usd)
                / nullif(cell_inputs.world_turnover_usd, 0), 'PCT',
                cell_inputs.is_provisional,
                cell_inputs.is_partner and cell_inputs.world_turnover_usd <> 0
            ),

            -- concentration and intra-industry trade
            (
                'HHI_X', cell_inputs.hhi_x, 'IDX', cell_inputs.is_provisional,
                cell_inputs.hhi_x is not null and cell_inputs.x_usd > 0
            ),
            (
                'GL_IIT', cell_inputs.gl_iit, 'IDX', cell_inputs.is_provisional,
                cell_inputs.gl_iit is not null
            ),

            -- mirror flows: partners only, where j reported t; status of the mirror only
            (
                'MIRROR_X_USD', cell_inputs.mirror_x_usd, 'USD', cell_inputs.mirror_is_provisional,
                cell_inputs.has_mirror
            ),
            (
                'MIRROR_M_USD', cell_inputs.mirror_m_usd, 'USD', cell_inputs.mirror_is_provisional,
                cell_inputs.has_mirror
            ),

            -- asymmetries, FOB basis; omitted when the denominator is 0; status of both
            (
                'ASYM_X_PCT',
                100 * (cell_inputs.x_usd - cell_inputs.mirror_x_fob_usd)
                / nullif((cell_inputs.x_usd + cell_inputs.mirror_x_fob_usd) / 2, 0), 'PCT',
                cell_inputs.is_provisional or cell_inputs.mirror_is_provisional,
                cell_inputs.has_mirror
                and cell_inputs.x_usd + cell_inputs.mirror_x_fob_usd <> 0
            ),
            (
                'ASYM_M_PCT',
                100 * (cell_inputs.m_usd / cell_inputs.cif_fob_factor - cell_inputs.mirror_m_usd)
                / nullif((
                    cell_inputs.m_usd / cell_inputs.cif_fob_factor
                    + cell_inputs.mirror_m_usd
                ) / 2, 0), 'PCT',
                cell_inputs.is_provisional or cell_inputs.mirror_is_provisional,
                cell_inputs.has_mirror
                and cell_inputs.m_usd / cell_inputs.cif_fob_factor + cell_inputs.mirror_m_usd <> 0
            )
        ) as observation (indicator, obs_value, unit_measure, is_provisional, is_observed)
    where observation.is_observed

),

final as (

    select
        freq::text as freq,
        reporter_iso3::text as ref_area,
        counterpart_area::text as counterpart_area,
        indicator::text as indicator,
        commodity::text as commodity,
        time_period::text as time_period,
        {{ obs_value_unit_status('obs_value', 'unit_measure', 'is_provisional') }}
    from observations

)

select * from final
