select *
from {batch} as b
where period_month is null
    or revision is null
    or status is null
    or row_number is null
    or napr is null
    or period is null
    or strana is null
    or tnved is null
    or stoim is null
    or netto is null
