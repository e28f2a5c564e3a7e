-- Every published total-commodity cell carries X_USD, M_USD, TURNOVER_USD and
-- BALANCE_USD (the model's shape). The identities between them (TURNOVER = X + M,
-- BALANCE = X - M) are the publish gate's: GX suite bilateral_trade.
with

pivoted as (

    select
        freq, ref_area, counterpart_area, commodity, time_period,
        count(*) filter (where indicator = 'X_USD') as x_usd_count,
        count(*) filter (where indicator = 'M_USD') as m_usd_count,
        count(*) filter (where indicator = 'TURNOVER_USD') as turnover_usd_count,
        count(*) filter (where indicator = 'BALANCE_USD') as balance_usd_count
    from {{ ref('ind_bilateral_trade') }}
    where commodity = '_T'
    group by 1, 2, 3, 4, 5

)

select *
from pivoted
where x_usd_count = 0
   or m_usd_count = 0
   or turnover_usd_count = 0
   or balance_usd_count = 0
