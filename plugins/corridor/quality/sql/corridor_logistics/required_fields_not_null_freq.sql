select *
from {batch} as b
where freq is null
    or node is null
    or
    indicator is null
    or direction is null
    or cargo is null
    or time_period is null
    or obs_value is null
    or unit_measure is null
    or obs_status is null
