-- Vessel calls (highest version) attributed to the port's local month.
select * from {{ ref('int_port_calls_attributed') }}
