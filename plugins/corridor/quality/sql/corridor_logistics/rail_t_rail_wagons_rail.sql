select *
from {batch} as o
where o.indicator in ('RAIL_T',
                      'RAIL_WAGONS',
                      'RAIL_TEU',
                      'RAIL_TRANSIT_T')
    and not exists
        (select 1
         from marts.dim_rail_crossings as d
         where d.crossing_point = o.node)
