select *
from {batch} as b
where
    indicator = 'HHI_X'
    and (obs_value < 0
         or obs_value > 1)
