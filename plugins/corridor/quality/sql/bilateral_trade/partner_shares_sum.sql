with shares as
    (select ref_area,
            time_period,
            sum(obs_value) as partner_share_pct
     from {batch} as b
     where freq = 'M'
         and
         indicator = 'PARTNER_SHARE_PCT'
         and commodity = '_T'
     group by ref_area,
              time_period),
     world as
    (select ref_area,
            time_period
     from {batch} as b
     where freq = 'M'
         and
         indicator = 'TURNOVER_USD'
         and counterpart_area = 'W00'
         and commodity = '_T'),
     flows as
    (select reporter_iso3 as ref_area,
            period_month as time_period,
            sum(trade_value_usd) as world_turnover_usd,
            coalesce(sum(trade_value_usd) filter (
                                                  where is_partner_undisclosed), 0) as undisclosed_turnover_usd
     from marts.fct_trade_flows
     where is_published
     group by reporter_iso3,
              period_month),
     totals as
    (select w.ref_area,
            w.time_period,
            coalesce(s.partner_share_pct, 0) as partner_share_pct,
            100 * f.undisclosed_turnover_usd / f.world_turnover_usd as undisclosed_share_pct
     from world as w
     inner join flows as f using (ref_area,
                                  time_period)
     left join shares as s using (ref_area,
                                  time_period)
     where f.world_turnover_usd <> 0)
select *
from totals
where abs(partner_share_pct + undisclosed_share_pct - 100) > $share_sum_tolerance_pct
