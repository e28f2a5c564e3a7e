select *
from {batch} as f
where not exists
        (select 1
         from marts.dim_countries as c
         where c.country_iso3 = f.reporter_iso3)
