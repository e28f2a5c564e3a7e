select *
from {batch} as b
where reporter_code not between 1 and 999
    or partner_code not between 0 and 999
