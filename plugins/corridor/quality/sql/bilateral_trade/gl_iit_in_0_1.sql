select *
from {batch} as b
where
    indicator = 'GL_IIT'
    and (obs_value < 0
         or obs_value > 1)
