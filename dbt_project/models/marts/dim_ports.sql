select
    locode as port_locode,
    name as port_name,
    country_iso2,
    role as port_role,
    role = 'feed_port' as is_feed_port,
    corridor,
    utc_offset,
    code_source
from {{ ref('ref_caspian_ports') }}
