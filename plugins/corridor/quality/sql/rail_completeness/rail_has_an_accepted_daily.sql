select p.period_month
from marts.dim_periods as p
where p.is_ingested
    and not exists
        (select 1
         from {batch} as u
         where u.feed = 'rail'
             and u.period_month = p.period_month
             and not exists
                 (select 1
                  from raw.rejected_rows as r
                  where r.feed = 'rail'
                      and r.unit = u.unit
                      and r.row_ref = 'report'))
