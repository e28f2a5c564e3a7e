with

source as (

    select * from {{ source('kz_customs', 'kz_customs_rows') }}

),

countries as (

    select m49, iso3 from {{ ref('ref_countries') }}

),

renamed as (

    select
        {{ grain_key(['source.period_month', 'source.row_number']) }} as trade_row_key,
        'KAZ'::text as reporter_iso3,
        source.period_month,
        source.revision as source_revision,
        source.status as source_status,
        source.row_number,
        case source.flow when 'export' then 'X' when 'import' then 'M' end as flow,
        source.partner_m49,
        source.partner_m49::integer = 0 as is_partner_undisclosed,
        case
            when source.partner_m49::integer = 0 then {{ undisclosed_partner() }}
            else countries.iso3
        end as partner_iso3,
        source.tn_ved as tnved_code,
        left(source.tn_ved, 6) as hs6_code,
        left(source.tn_ved, 2) as hs_chapter,
        -- thousand USD and tonnes -> USD and kg, exact in numeric
        source.value_thousand_usd * 1000 as trade_value_usd,
        source.net_weight_t * 1000 as net_weight_kg,
        source.transport_mode,
        source.customs_regime,
        source.supp_qty as supplementary_quantity,
        source.supp_unit as supplementary_unit

    from source
    -- area codes compare as integers: M49 '031' = 31
    left join countries on countries.m49::integer = source.partner_m49::integer

)

select * from renamed
