with

source as (

    select * from {{ source('rail', 'rail_consignments') }}

),

renamed as (

    select
        {{ grain_key(['report_date', 'revision', 'row_number']) }} as consignment_key,
        report_date,
        to_char(report_date, 'YYYY-MM') as period_month,
        revision as report_revision,
        row_number,
        point as crossing_point,
        partner_railway,
        -- seen from Kazakhstan: inbound enters, outbound leaves
        case direction when 'inbound' then 'IN' when 'outbound' then 'OUT' end as direction,
        transit as is_transit,
        gng as gng_code,
        left(gng, 6) as hs6_code,
        wagons,
        teu,
        tonnes,
        origin as origin_iso2,
        destination as destination_iso2

    from source

)

select * from renamed
