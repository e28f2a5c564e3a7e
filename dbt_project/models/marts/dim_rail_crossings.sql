select
    point as crossing_point,
    name as crossing_name,
    kz_side_station,
    neighbour_iso2,
    neighbour_railway,
    corridor
from {{ ref('ref_rail_crossings') }}
