select *
from {batch} as b
where feed in ('ru_customs',
               'kz_customs')
    and revision is null
