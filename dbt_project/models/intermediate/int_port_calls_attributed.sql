-- Every vessel call (highest version) with its port's local arrival time and the
-- local calendar month it is attributed to; is_counted when the highest version is
-- at_berth or departed.
with

calls as (

    select * from {{ ref('stg_ports__calls') }}

),

ports as (

    select locode, role, corridor, utc_offset from {{ ref('ref_caspian_ports') }}

),

attributed as (

    select
        calls.call_id,
        calls.port_locode,
        calls.call_version,
        calls.call_status,
        calls.call_status in ('at_berth', 'departed') as is_counted,
        calls.arrived_at,
        calls.departed_at,
        ports.utc_offset as port_utc_offset,
        -- local wall-clock time at the port, whatever offset the timestamp carried.
        -- AT TIME ZONE with an interval shifts east of UTC by it (a POSIX-style text
        -- zone such as '+05:00' would shift the other way).
        calls.arrived_at at time zone ports.utc_offset::interval as arrived_at_local,
        calls.departed_at at time zone ports.utc_offset::interval as departed_at_local,
        to_char(calls.arrived_at at time zone ports.utc_offset::interval, 'YYYY-MM')
        as period_month,
        case
            when calls.call_status = 'departed' and calls.departed_at is not null
                then extract(epoch from (calls.departed_at - calls.arrived_at)) / 3600
        end as stay_hours,
        calls.updated_at

    from calls
    inner join ports on ports.locode = calls.port_locode

)

select * from attributed
