with

source as (

    select * from {{ source('comtrade', 'comtrade_reporting') }}

),

countries as (

    select m49::integer as m49_code, iso3 from {{ ref('ref_countries') }}

),

renamed as (

    select
        {{ grain_key(['source.reporter_code', 'source.period_month']) }} as comtrade_reporting_key,
        source.reporter_code,
        countries.iso3 as reporter_iso3,
        source.period_month,
        source.has_reported,
        source.probe_rows

    from source
    left join countries on countries.m49_code = source.reporter_code

)

select * from renamed
