select *
from {batch} as b
where origin !~ '^[A-Z][A-Z]$'
    or destination !~ '^[A-Z][A-Z]$'
