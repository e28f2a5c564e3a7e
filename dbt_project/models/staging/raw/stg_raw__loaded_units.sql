with

source as (

    select * from {{ source('raw', 'loaded_units') }}

),

renamed as (

    select
        {{ grain_key(['feed', 'unit']) }} as loaded_unit_key,
        feed,
        unit,
        period_month,
        -- comtrade units are '<reporterCode>:YYYY-MM'; rail units are days
        case when feed = 'comtrade' then split_part(unit, ':', 1)::integer end
        as comtrade_reporter_code,
        case when feed = 'rail' then unit::date end as report_date,
        revision,
        status,
        coalesce(status = 'preliminary', false) as is_preliminary,
        sha256,
        rows_loaded,
        rows_rejected,
        loaded_at

    from source

)

select * from renamed
