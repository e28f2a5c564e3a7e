select *
from {batch} as b
where wagons < 0
    or teu < 0
    or tonnes < 0
