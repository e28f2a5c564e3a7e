-- Rows where any of the quantity columns is negative (least() ignores nulls: an
-- absent quantity is no negative one).
select *
from {batch} as b
where least($columns) < 0
