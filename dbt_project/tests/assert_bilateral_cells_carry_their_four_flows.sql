-- TURNOVER = X + M and BALANCE = X - M for every published cell. Each value is rounded
-- once from unrounded sums, so the identities hold within one unit of the last decimal.
with

pivoted as (

    select
        freq, ref_area, counterpart_area, commodity, time_period,
        max(obs_value) filter (where indicator = 'X_USD') as x_usd,
        max(obs_value) filter (where indicator = 'M_USD') as m_usd,
        max(obs_value) filter (where indicator = 'TURNOVER_USD') as turnover_usd,
        max(obs_value) filter (where indicator = 'BALANCE_USD') as balance_usd
    from {{ ref('ind_bilateral_trade') }}
    where commodity = '_T'
    group by 1, 2, 3, 4, 5

)

select *
from pivoted
where x_usd is null
   or m_usd is null
   or turnover_usd is null
   or balance_usd is null
   or abs(turnover_usd - (x_usd + m_usd)) > 0.01
   or abs(balance_usd - (x_usd - m_usd)) > 0.01
