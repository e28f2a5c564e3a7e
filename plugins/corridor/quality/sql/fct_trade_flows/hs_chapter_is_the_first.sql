select *
from {batch} as f
where f.hs_chapter is null
    or f.hs_chapter !~ '^[0-9][0-9]$'
    or left(f.hs6_code, 2) <> f.hs_chapter
