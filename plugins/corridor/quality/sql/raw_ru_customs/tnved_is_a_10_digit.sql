select *
from {batch} as b
where not (tnved ~ '^[0-9]+$'
           and length(tnved) = 10)
