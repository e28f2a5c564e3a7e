select *
from {batch} as b
where stoim < 0
    or netto < 0
    or kol < 0
