select r.reporter_code,
       r.period_month,
       count(*) as rows_count
from {batch} as r
where not exists
        (select 1
         from raw.loaded_units as u
         where u.feed = 'comtrade'
             and u.unit = r.reporter_code::text || ':' || r.period_month)
group by r.reporter_code,
         r.period_month
