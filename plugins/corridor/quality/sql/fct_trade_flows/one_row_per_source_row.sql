select source_feed,
       period_month,
       source_row_number,
       count(*) as rows_count
from {batch} as b
group by source_feed,
         period_month,
         source_row_number
having count(*) > 1
