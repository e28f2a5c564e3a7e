select *
from {batch} as b
where not (partner_m49 ~ '^[0-9]+$'
           and length(partner_m49) = 3)
