-- Consignments of the newest revision of each report day.
with

consignments as (

    select * from {{ ref('stg_rail__consignments') }}

),

newest as (

    select
        consignments.*,
        max(report_revision) over (partition by report_date) as newest_revision
    from consignments

)

select
    consignment_key,
    report_date,
    period_month,
    report_revision,
    row_number,
    crossing_point,
    partner_railway,
    direction, is_transit, gng_code, hs6_code, wagons, teu, tonnes, origin_iso2, destination_iso2
from newest
where report_revision = newest_revision
