select *
from {batch} as b
where strana !~ '^[A-Z][A-Z]$'
