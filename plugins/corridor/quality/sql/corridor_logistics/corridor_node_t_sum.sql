with nodes as
    (select corridor,
            crossing_point as node,
            'RAIL_T' as
     indicator
     from marts.dim_rail_crossings
     union all select corridor,
                      port_locode,
                      'PORT_T'
     from marts.dim_ports
     where is_feed_port),
     node_counts as
    (select corridor,
            count(*) as nodes_count
     from nodes
     group by corridor),
     node_sums as
    (select n.corridor,
            o.freq,
            o.time_period,
            sum(o.obs_value) as nodes_t
     from nodes as n
     inner join {batch} as o on o.node = n.node
     and o.indicator = n.indicator
     and o.direction = '_T'
     and o.cargo = '_T'
     group by n.corridor,
              o.freq,
              o.time_period)
select c.freq,
       c.node as corridor,
       c.time_period,
       c.obs_value as corridor_node_t,
       coalesce(s.nodes_t, 0) as nodes_t,
       coalesce(k.nodes_count, 0) as nodes_count
from {batch} as c
left join node_sums as s on s.corridor = c.node
and s.freq = c.freq
and s.time_period = c.time_period
left join node_counts as k on k.corridor = c.node
where c.indicator = 'CORRIDOR_NODE_T'
    and abs(c.obs_value - coalesce(s.nodes_t, 0)) > $node_t_tolerance_per_node * coalesce(k.nodes_count, 0)
