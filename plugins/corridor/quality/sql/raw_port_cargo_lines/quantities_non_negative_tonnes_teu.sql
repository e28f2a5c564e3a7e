select *
from {batch} as b
where tonnes < 0
    or teu < 0
