select *
from {batch} as o
where o.indicator in ('PORT_T',
                      'PORT_TEU',
                      'PORT_CALLS',
                      'PORT_STAY_H')
    and not exists
        (select 1
         from marts.dim_ports as d
         where d.port_locode = o.node)
