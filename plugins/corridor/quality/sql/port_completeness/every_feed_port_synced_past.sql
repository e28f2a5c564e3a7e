with window_end as
    (select max(month_end_date) + 1 as next_day
     from marts.dim_periods
     where is_ingested),
     port_months as
    (select d.port_locode,
            p.period_month,
            exists
         (select 1
          from {batch} as s
          cross join window_end as w
          where s.port = d.port_locode
              and s.synced_at >= (w.next_day::timestamp - d.utc_offset::interval) at time zone 'utc') as is_synced,

         (select count(distinct o.indicator)
          from marts.ind_corridor_logistics as o
          where o.freq = 'M'
              and o.node = d.port_locode
              and o.time_period = p.period_month
              and o.indicator in ('PORT_CALLS',
                                  'PORT_T')
              and o.direction = '_T'
              and o.cargo = '_T') as totals_count
     from marts.dim_ports as d
     cross join marts.dim_periods as p
     where d.is_feed_port
         and p.is_published)
select *
from port_months
where not is_synced
    or totals_count < 2
