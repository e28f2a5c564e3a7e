select r.period_month,
       r.revision,
       count(*) as rows_count
from {batch} as r
where not exists
        (select 1
         from raw.loaded_units as u
         where u.feed = 'kz_customs'
             and u.unit = r.period_month
             and u.revision = r.revision)
group by r.period_month,
         r.revision
