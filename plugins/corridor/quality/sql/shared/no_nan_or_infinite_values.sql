select *
from {batch} as b
where obs_value in ('NaN',
                    'Infinity',
                    '-Infinity')
