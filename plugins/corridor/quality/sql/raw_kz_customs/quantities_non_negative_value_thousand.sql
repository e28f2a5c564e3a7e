select *
from {batch} as b
where value_thousand_usd < 0
    or net_weight_t < 0
    or supp_qty < 0
