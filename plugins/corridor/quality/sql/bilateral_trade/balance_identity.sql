select *
from
    (select freq,
            ref_area,
            counterpart_area,
            commodity,
            time_period,
            max(obs_value) filter (
                                   where
                                       indicator = 'X_USD') as x_usd,
            max(obs_value) filter (
                                   where
                                       indicator = 'M_USD') as m_usd,
            max(obs_value) filter (
                                   where
                                       indicator = 'TURNOVER_USD') as turnover_usd,
            max(obs_value) filter (
                                   where
                                       indicator = 'BALANCE_USD') as balance_usd
     from {batch} as b
     group by freq,
              ref_area,
              counterpart_area,
              commodity,
              time_period) as k
where balance_usd is not null
    and (x_usd is null
         or m_usd is null
         or abs(balance_usd - (x_usd - m_usd)) > $usd_identity_tolerance)
