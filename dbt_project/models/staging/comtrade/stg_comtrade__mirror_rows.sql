with

source as (

    select * from {{ source('comtrade', 'comtrade_rows') }}

),

countries as (

    select m49::integer as m49_code, iso3 from {{ ref('ref_countries') }}

),

renamed as (

    select
        {{ grain_key(['source.reporter_code', 'source.period_month', 'source.flow_code',
                      'source.partner_code', 'source.cmd_code']) }} as comtrade_row_key,
        source.reporter_code,
        reporters.iso3 as reporter_iso3,
        source.period_month,
        source.row_number,
        source.flow_code as flow,
        source.partner_code,
        partners.iso3 as partner_iso3,
        source.cmd_code as hs6_code,
        left(source.cmd_code, 2) as hs_chapter,
        source.cifvalue as cif_value_usd,
        source.fobvalue as fob_value_usd,
        -- the value as the reporter reports it: imports CIF (FOB where the reporter
        -- values imports FOB), exports FOB
        case
            when source.flow_code = 'M' then coalesce(source.cifvalue, source.fobvalue)
            else source.fobvalue
        end as mirror_value_usd,
        case
            when source.flow_code = 'M' and source.cifvalue is not null then 'CIF'
            else 'FOB'
        end as mirror_value_basis,
        source.net_wgt as net_weight_kg

    from source
    -- codes compare as integers (Comtrade 31 = M49 '031')
    left join countries as reporters on reporters.m49_code = source.reporter_code
    left join countries as partners on partners.m49_code = source.partner_code
    -- only the leaves count: motCode 0, customsCode C00, partner2Code 0, aggrLevel 6
    where source.is_counted_leaf

)

select * from renamed
