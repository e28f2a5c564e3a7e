select *
from {batch} as b
where period_month is null
    or revision is null
    or status is null
    or row_number is null
    or flow is null
    or tn_ved is null
    or partner_m49 is null
    or value_thousand_usd is null
    or net_weight_t is null
    or transport_mode is null
    or customs_regime is null
