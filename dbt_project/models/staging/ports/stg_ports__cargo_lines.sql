with

source as (

    select * from {{ source('ports', 'port_cargo_lines') }}

),

renamed as (

    select
        {{ grain_key(['call_id', 'line_number']) }} as cargo_line_key,
        call_id,
        version as call_version,
        line_number,
        operation,
        case operation when 'load' then 'LOAD' when 'discharge' then 'DISCH' end as direction,
        cargo_type,
        hs_chapter,
        tonnes,
        -- teu null counts as 0
        coalesce(teu, 0) as teu

    from source

)

select * from renamed
