with

source as (

    select * from {{ source('ru_customs', 'ru_customs_rows') }}

),

countries as (

    select iso2, iso3 from {{ ref('ref_countries') }}

),

renamed as (

    select
        {{ grain_key(['source.period_month', 'source.row_number']) }} as trade_row_key,
        'RUS'::text as reporter_iso3,
        source.period_month,
        source.revision as source_revision,
        source.status as source_status,
        source.row_number,
        case source.napr when 'ЭК' then 'X' when 'ИМ' then 'M' end as flow,
        source.strana as partner_iso2,
        source.strana = 'XX' as is_partner_undisclosed,
        case
            when source.strana = 'XX' then {{ undisclosed_partner() }}
            else countries.iso3
        end as partner_iso3,
        source.tnved as tnved_code,
        left(source.tnved, 6) as hs6_code,
        left(source.tnved, 2) as hs_chapter,
        source.stoim as trade_value_usd,
        source.netto as net_weight_kg,
        source.edizm as supplementary_unit,
        source.kol as supplementary_quantity,
        source.region as region_code,
        source.region_s as region_name

    from source
    left join countries on countries.iso2 = source.strana

)

select * from renamed
