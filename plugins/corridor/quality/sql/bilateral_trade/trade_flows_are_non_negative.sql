select *
from {batch} as b
where obs_value < 0
    and
    indicator in ($flow_indicators)
