-- Cargo lines of the counted port calls.
select * from {{ ref('int_port_cargo_lines_counted') }}
