select *
from {batch} as f
where case
          when coalesce(f.is_partner_undisclosed, false) then f.partner_iso3 is distinct
               from '$undisclosed_partner_iso3'
          else not exists
                   (select 1
                    from marts.dim_countries as c
                    where c.country_iso3 = f.partner_iso3)
      end
