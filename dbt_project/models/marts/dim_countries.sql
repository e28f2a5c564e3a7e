select
    iso3 as country_iso3,
    iso2 as country_iso2,
    m49 as m49_code,
    name_en,
    name_ru,
    is_eaeu,
    iso3 in {{ reporter_iso3s() }} as is_reporter
from {{ ref('ref_countries') }}
