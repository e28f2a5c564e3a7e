select p.period_month,
       f.feed
from marts.dim_periods p
cross join unnest(array[$customs_feeds]) as f(feed)
where p.is_ingested
    and not exists
        (select 1
         from {batch} as u
         where u.feed = f.feed
             and u.unit = p.period_month)
