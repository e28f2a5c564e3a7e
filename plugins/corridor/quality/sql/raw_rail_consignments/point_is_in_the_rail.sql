select *
from {batch} as r
where not exists
        (select 1
         from reference.ref_rail_crossings as x
         where x.point = r.point)
