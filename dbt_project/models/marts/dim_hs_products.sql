select
    products.hs_version,
    products.hs_code,
    products.level as hs_level,
    products.parent as parent_hs_code,
    products.section as hs_section,
    sections.name as section_name,
    products.description
from {{ ref('ref_hs_products') }} as products
left join {{ ref('ref_hs_sections') }} as sections using (section)
