select *
from {batch} as b
where reporter_code is null
    or period_month is null
    or row_number is null
    or flow_code is null
    or partner_code is null
    or partner2_code is null
    or cmd_code is null
    or mot_code is null
    or customs_code is null
    or is_counted_leaf is null
