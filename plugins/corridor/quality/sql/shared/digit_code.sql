-- Rows whose code column is not exactly that many ASCII digits (a null is left to
-- the required-fields check).
select *
from {batch} as b
where $column !~ '^[0-9]{$digits}$'
