select *
from {batch} as b
where not (tn_ved ~ '^[0-9]+$'
           and length(tn_ved) = 10)
