with valued as
    (select reporter_iso3,
            period_month,
            source_feed,
            source_row_number,
            hs6_code,
            flow,
            left(period_month, 4) as period_year,
            trade_value_usd / net_weight_kg as unit_value_usd_per_kg
     from {batch} as b
     where net_weight_kg > 0),
     quartiles as
    (select hs6_code,
            flow,
            period_year,
            percentile_cont(0.25) within group (
                                                order by unit_value_usd_per_kg) as q1,
                                               percentile_cont(0.75) within group (
                                                                                   order by unit_value_usd_per_kg) as q3
     from valued
     group by hs6_code,
              flow,
              period_year)
select v.*,
       q.q1,
       q.q3
from valued as v
inner join quartiles as q using (hs6_code,
                                 flow,
                                 period_year)
where v.unit_value_usd_per_kg < $unit_value_low_factor * q.q1
    or v.unit_value_usd_per_kg > $unit_value_high_factor * q.q3
