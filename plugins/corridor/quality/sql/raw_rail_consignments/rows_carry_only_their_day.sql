select r.report_date,
       r.revision,
       count(*) as rows_count
from {batch} as r
where not exists
        (select 1
         from raw.loaded_units as u
         where u.feed = 'rail'
             and u.unit = to_char(r.report_date, 'YYYY-MM-DD')
             and u.revision = r.revision)
group by r.report_date,
         r.revision
