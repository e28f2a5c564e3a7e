select l.call_id,
       l.version,
       count(*) as lines_count
from {batch} as l
where not exists
        (select 1
         from raw.port_calls as c
         where c.call_id = l.call_id
             and c.version = l.version)
group by l.call_id,
         l.version
