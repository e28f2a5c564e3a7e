-- Rail consignments of the newest revision of each report day.
select * from {{ ref('int_rail_consignments_counted') }}
