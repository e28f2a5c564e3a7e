-- Fact rows whose HS code (chapter or subheading) is not a code of its level in the
-- HS version of their period.
select *
from {batch} as f
where not exists
        (select 1
         from marts.dim_hs_products as h
         where h.hs_level = $hs_level
             and h.hs_version = case
                                    when f.period_month >= '2022-01' then 'HS2022'
                                    else 'HS2017'
                                end
             and h.hs_code = f.$code_column)
