{{ config(contract={'enforced': true}) }}
-- DF_CORRIDOR_LOGISTICS: one row per published observation, columns of the plain CSV.
-- Totals are published for every node and period (0 when nothing happened);
-- breakdown cells only where at least one counted record falls in them.
with

periods as (

    select * from {{ ref('int_periods_enumerated') }}

),

calls as (

    select * from {{ ref('int_port_calls_attributed') }} where is_counted

),

cargo_lines as (

    select * from {{ ref('int_port_cargo_lines_counted') }}

),

consignments as (

    select * from {{ ref('int_rail_consignments_counted') }}

),

rail_months as (

    select * from {{ ref('int_rail_months_completed') }}

),

feed_ports as (

    select locode as port_locode, corridor
    from {{ ref('ref_caspian_ports') }}
    where role = 'feed_port'

),

crossings as (

    select point as crossing_point, corridor from {{ ref('ref_rail_crossings') }}

),

corridors as (

    select corridor from {{ ref('ref_corridors') }}

),

-- each published month, and each published year with its 12 months
period_months as (

    select 'M'::text as freq, period_month as time_period, period_month
    from periods where is_published
    union all
    select 'A'::text as freq, period_year::text as time_period, period_month
    from periods where is_year_published

),

published_periods as (

    select distinct freq, time_period from period_months

),

-- ports ---------------------------------------------------------------------------

calls_tagged as (

    select period_months.freq, period_months.time_period, calls.*
    from calls
    inner join period_months on period_months.period_month = calls.period_month

),

lines_tagged as (

    select period_months.freq, period_months.time_period, cargo_lines.*
    from cargo_lines
    inner join period_months on period_months.period_month = cargo_lines.period_month

),

port_periods as (

    select feed_ports.port_locode, published_periods.freq, published_periods.time_period
    from feed_ports
    cross join published_periods

),

port_call_sums as (

    select
        port_locode, freq, time_period,
        count(*) as calls_count,
        -- provisional while any counted call of the period is still at berth
        bool_or(call_status = 'at_berth') as is_provisional
    from calls_tagged
    group by 1, 2, 3

),

port_stays as (

    select
        port_locode, freq, time_period,
        sum(stay_hours) / count(*) as mean_stay_hours
    from calls_tagged
    where stay_hours is not null
    group by 1, 2, 3

),

port_line_cells as (

    select
        port_locode, freq, time_period,
        coalesce(direction, '_T') as direction,
        coalesce(cargo_type, '_T') as cargo,
        sum(tonnes) as tonnes,
        sum(teu) as teu,
        count(*) as lines_count
    from lines_tagged
    group by grouping sets (
        (port_locode, freq, time_period, direction, cargo_type),
        (port_locode, freq, time_period, direction),
        (port_locode, freq, time_period, cargo_type),
        (port_locode, freq, time_period)
    )

),

port_status as (

    select
        port_periods.port_locode, port_periods.freq, port_periods.time_period,
        coalesce(port_call_sums.calls_count, 0) as calls_count,
        coalesce(port_call_sums.is_provisional, false) as is_provisional
    from port_periods
    left join port_call_sums using (port_locode, freq, time_period)

),

port_totals as (

    select
        port_status.*,
        coalesce(port_line_cells.tonnes, 0) as tonnes
    from port_status
    left join port_line_cells
        on port_line_cells.port_locode = port_status.port_locode
            and port_line_cells.freq = port_status.freq
            and port_line_cells.time_period = port_status.time_period
            and port_line_cells.direction = '_T'
            and port_line_cells.cargo = '_T'

),

-- rail ----------------------------------------------------------------------------

consignments_tagged as (

    select period_months.freq, period_months.time_period, consignments.*
    from consignments
    inner join period_months on period_months.period_month = consignments.period_month

),

rail_status as (

    -- provisional while any day of any of its months lacks a loaded report
    select
        period_months.freq, period_months.time_period, bool_or(not rail_months.is_complete)
        as is_provisional
    from period_months
    inner join rail_months on rail_months.period_month = period_months.period_month
    group by 1, 2

),

rail_cells as (

    select
        crossing_point, freq, time_period,
        coalesce(direction, '_T') as direction,
        sum(tonnes) as tonnes,
        sum(wagons) as wagons,
        sum(teu) as teu,
        sum(case when is_transit then tonnes else 0 end) as transit_tonnes
    from consignments_tagged
    group by grouping sets (
        (crossing_point, freq, time_period, direction),
        (crossing_point, freq, time_period)
    )

),

rail_totals as (

    select
        crossings.crossing_point, published_periods.freq, published_periods.time_period,
        coalesce(rail_cells.tonnes, 0) as tonnes,
        coalesce(rail_cells.wagons, 0) as wagons,
        coalesce(rail_cells.teu, 0) as teu,
        coalesce(rail_cells.transit_tonnes, 0) as transit_tonnes,
        rail_status.is_provisional
    from crossings
    cross join published_periods
    inner join rail_status using (freq, time_period)
    left join rail_cells
        on rail_cells.crossing_point = crossings.crossing_point
            and rail_cells.freq = published_periods.freq
            and rail_cells.time_period = published_periods.time_period
            and rail_cells.direction = '_T'

),

-- corridors: node throughput of their crossing points and feed ports ---------------

corridor_nodes as (

    select
        crossings.corridor, rail_totals.freq, rail_totals.time_period,
        rail_totals.tonnes, rail_totals.is_provisional
    from rail_totals
    inner join crossings using (crossing_point)
    union all
    select
        feed_ports.corridor, port_totals.freq, port_totals.time_period,
        port_totals.tonnes, port_totals.is_provisional
    from port_totals
    inner join feed_ports using (port_locode)

),

corridor_totals as (

    select
        corridors.corridor, published_periods.freq, published_periods.time_period,
        coalesce(sum(corridor_nodes.tonnes), 0) as tonnes,
        coalesce(bool_or(corridor_nodes.is_provisional), false) as is_provisional
    from corridors
    cross join published_periods
    left join corridor_nodes
        on corridor_nodes.corridor = corridors.corridor
            and corridor_nodes.freq = published_periods.freq
            and corridor_nodes.time_period = published_periods.time_period
    group by 1, 2, 3

),

observations as (

    -- ports: totals always
    select
        freq, port_locode as node, 'PORT_CALLS' as indicator, '_T' as direction,
        '_T' as cargo, time_period, calls_count::numeric as obs_value, 'NUM' as unit_measure,
        is_provisional
    from port_totals
    union all
    select freq, port_locode, 'PORT_T', '_T', '_T', time_period, tonnes, 'T', is_provisional
    from port_totals

    -- ports: breakdown cells where at least one cargo line falls
    union all
    select
        port_line_cells.freq, port_line_cells.port_locode, 'PORT_T',
        port_line_cells.direction, port_line_cells.cargo, port_line_cells.time_period,
        port_line_cells.tonnes, 'T', port_status.is_provisional
    from port_line_cells
    inner join port_status using (port_locode, freq, time_period)
    where not (port_line_cells.direction = '_T' and port_line_cells.cargo = '_T')
    union all
    select
        port_line_cells.freq, port_line_cells.port_locode, 'PORT_TEU',
        port_line_cells.direction, port_line_cells.cargo, port_line_cells.time_period,
        port_line_cells.teu, 'TEU', port_status.is_provisional
    from port_line_cells
    inner join port_status using (port_locode, freq, time_period)
    where port_line_cells.cargo = 'container'
    union all
    select
        port_stays.freq, port_stays.port_locode, 'PORT_STAY_H', '_T', '_T',
        port_stays.time_period, port_stays.mean_stay_hours, 'H', port_status.is_provisional
    from port_stays
    inner join port_status using (port_locode, freq, time_period)

    -- rail: totals always
    union all
    select freq, crossing_point, 'RAIL_T', '_T', '_T', time_period, tonnes, 'T', is_provisional
    from rail_totals
    union all
    select
        freq, crossing_point, 'RAIL_WAGONS', '_T', '_T', time_period, wagons, 'NUM',
        is_provisional
    from rail_totals
    union all
    select freq, crossing_point, 'RAIL_TEU', '_T', '_T', time_period, teu, 'TEU', is_provisional
    from rail_totals
    union all
    select
        freq, crossing_point, 'RAIL_TRANSIT_T', '_T', '_T', time_period, transit_tonnes, 'T',
        is_provisional
    from rail_totals

    -- rail: direction cells where at least one consignment falls
    union all
    select
        rail_cells.freq, rail_cells.crossing_point, measures.indicator, rail_cells.direction,
        '_T', rail_cells.time_period,
        case measures.indicator
            when 'RAIL_T' then rail_cells.tonnes
            when 'RAIL_WAGONS' then rail_cells.wagons
            else rail_cells.teu
        end,
        measures.unit_measure,
        rail_status.is_provisional
    from rail_cells
    inner join rail_status using (freq, time_period)
    cross join (
        values ('RAIL_T', 'T'), ('RAIL_WAGONS', 'NUM'), ('RAIL_TEU', 'TEU')
    ) as measures (indicator, unit_measure)
    where rail_cells.direction <> '_T'

    -- corridors
    union all
    select
        freq, corridor, 'CORRIDOR_NODE_T', '_T', '_T', time_period, tonnes, 'T',
        is_provisional
    from corridor_totals

),

final as (

    select
        freq::text as freq,
        node::text as node,
        indicator::text as indicator,
        direction::text as direction,
        cargo::text as cargo,
        time_period::text as time_period,
        {{ obs_value_unit_status('obs_value', 'unit_measure', 'is_provisional') }}
    from observations

)

select * from final
