with

source as (

    select * from {{ source('ports', 'port_calls') }}

),

renamed as (

    select
        call_id,
        port as port_locode,
        version as call_version,
        status as call_status,
        -- ISO-8601 with offset -> an instant (timestamptz)
        updated_at::timestamptz as updated_at,
        arrived_at::timestamptz as arrived_at,
        departed_at::timestamptz as departed_at,
        vessel_imo,
        vessel_name,
        vessel_flag as vessel_flag_iso2,
        previous_port as previous_port_locode,
        next_port as next_port_locode

    from source

)

select * from renamed
