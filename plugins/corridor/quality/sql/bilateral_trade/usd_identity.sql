-- TURNOVER_USD (m_usd_sign 1) or BALANCE_USD (-1) against X_USD and M_USD: the keys
-- where it is published and differs from X + sign * M by more than the rounding
-- allows, or X_USD or M_USD is missing.
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
                                       indicator = '$identity_indicator') as identity_usd
     from {batch} as b
     group by freq,
              ref_area,
              counterpart_area,
              commodity,
              time_period) as k
where identity_usd is not null
    and (x_usd is null
         or m_usd is null
         or abs(identity_usd - (x_usd + $m_usd_sign * m_usd)) > $usd_identity_tolerance)
