select *
from {batch} as b
where port !~ '^[A-Z][A-Z][A-Z2-9][A-Z2-9][A-Z2-9]$'
