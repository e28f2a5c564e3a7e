select *
from {batch} as b
where not (gng ~ '^[0-9]+$'
           and length(gng) = 8)
