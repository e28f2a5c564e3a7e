-- Harmonised customs rows of both reporters (USD, kg, ISO3), ingest window.
select
    flows.*,
    periods.is_published
from {{ ref('int_trade_flows_harmonised') }} as flows
inner join {{ ref('int_periods_enumerated') }} as periods using (period_month)
