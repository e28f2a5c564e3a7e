select *
from {batch} as b
where freq is null
    or ref_area is null
    or counterpart_area is null
    or
    indicator is null
    or commodity is null
    or time_period is null
    or obs_value is null
    or unit_measure is null
    or obs_status is null
