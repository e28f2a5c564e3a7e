-- Observations of an index (HHI_X, GL_IIT) outside [0, 1].
select *
from {batch} as b
where
    indicator = '$indicator'
    and (obs_value < 0
         or obs_value > 1)
