select *
from {batch} as o
where o.indicator in ('CORRIDOR_NODE_T')
    and not exists
        (select 1
         from marts.dim_corridors as d
         where d.corridor = o.node)
