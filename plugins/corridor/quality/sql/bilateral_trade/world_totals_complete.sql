-- The (published month, reporter) pairs without a monthly W00 TURNOVER_USD total:
-- the pairs expected, except those the batch has.
select p.period_month,
       r.reporter
from marts.dim_periods as p
cross join unnest(array[$reporters]) as r(reporter)
where p.is_published
except
select b.time_period,
       b.ref_area
from {batch} as b
where b.freq = 'M'
    and b.counterpart_area = 'W00'
    and b.indicator = 'TURNOVER_USD'
    and b.commodity = '_T'
