-- Rows where any of the required columns is null (num_nulls: any column types).
select *
from {batch} as b
where num_nulls($columns) > 0
