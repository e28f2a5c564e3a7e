select *
from {batch} as b
where hs_chapter is not null
    and not (hs_chapter ~ '^[0-9]+$'
             and length(hs_chapter) = 2)
