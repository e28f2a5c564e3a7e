select *
from {batch} as b
where cifvalue < 0
    or fobvalue < 0
    or primary_value < 0
    or net_wgt < 0
