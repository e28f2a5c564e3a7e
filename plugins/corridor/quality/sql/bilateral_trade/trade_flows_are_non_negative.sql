select *
from {batch} as b
where obs_value < 0
    and
    indicator in ('X_USD',
                  'M_USD',
                  'TURNOVER_USD',
                  'MIRROR_X_USD',
                  'MIRROR_M_USD')
