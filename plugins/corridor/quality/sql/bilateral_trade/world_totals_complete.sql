select p.period_month,
       r.reporter
from marts.dim_periods p
cross join (
            values ('RUS'), ('KAZ')) as r(reporter)
where p.is_published
    and not exists
        (select 1
         from {batch} as b
         where b.freq = 'M'
             and b.ref_area = r.reporter
             and b.counterpart_area = 'W00'
             and b.indicator = 'TURNOVER_USD'
             and b.commodity = '_T'
             and b.time_period = p.period_month)
