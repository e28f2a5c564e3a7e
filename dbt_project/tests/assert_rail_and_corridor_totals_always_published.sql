-- Every crossing point and corridor has its totals in every published month. Feed
-- ports' totals (and their sync) are the publish gate's: GX suite port_completeness.
with

periods as (

    select period_month as time_period
    from {{ ref('dim_periods') }}
    where is_published

),

expected as (

    select point as node, indicator, time_period
    from {{ ref('ref_rail_crossings') }}
    cross join (values ('RAIL_T'), ('RAIL_WAGONS'), ('RAIL_TEU'), ('RAIL_TRANSIT_T')) as i (indicator)
    cross join periods
    union all
    select corridor, 'CORRIDOR_NODE_T', time_period
    from {{ ref('ref_corridors') }}
    cross join periods

)

select expected.*
from expected
left join {{ ref('ind_corridor_logistics') }} as published
    on published.freq = 'M'
    and published.node = expected.node
    and published.indicator = expected.indicator
    and published.direction = '_T'
    and published.cargo = '_T'
    and published.time_period = expected.time_period
where published.node is null
