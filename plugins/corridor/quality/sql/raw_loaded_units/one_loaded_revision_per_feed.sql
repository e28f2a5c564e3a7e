select feed,
       unit,
       count(*) as revisions_count
from {batch} as b
group by feed,
         unit
having count(*) > 1
