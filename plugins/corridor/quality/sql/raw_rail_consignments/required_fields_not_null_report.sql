select *
from {batch} as b
where report_date is null
    or revision is null
    or row_number is null
    or point is null
    or direction is null
    or transit is null
    or gng is null
    or wagons is null
    or teu is null
    or tonnes is null
