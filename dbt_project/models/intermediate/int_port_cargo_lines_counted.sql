-- Cargo lines of the counted calls (same version as the call), with the call's
-- port and local month.
with

lines as (

    select * from {{ ref('stg_ports__cargo_lines') }}

),

calls as (

    select * from {{ ref('int_port_calls_attributed') }}

)

select
    lines.cargo_line_key,
    lines.call_id,
    lines.line_number,
    calls.port_locode,
    calls.period_month,
    calls.call_status,
    lines.direction,
    lines.cargo_type,
    lines.hs_chapter,
    lines.tonnes,
    lines.teu
from lines
inner join calls
    on calls.call_id = lines.call_id
        and calls.call_version = lines.call_version
where calls.is_counted
