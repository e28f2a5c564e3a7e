-- Whether each month's daily rail reports are all in: a month is provisional while
-- any of its days has no loaded report (not out yet, or rejected whole).
with

periods as (

    select * from {{ ref('int_periods_enumerated') }}

),

loaded_days as (

    select distinct report_date
    from {{ ref('stg_raw__loaded_units') }}
    where feed = 'rail'
        and coalesce(status, '') <> 'rejected'

),

counted as (

    select
        periods.period_month,
        periods.period_year,
        periods.days_in_month,
        count(loaded_days.report_date)::integer as days_reported
    from periods
    left join loaded_days
        on loaded_days.report_date between periods.month_start_date and periods.month_end_date
    group by 1, 2, 3

)

select
    period_month,
    period_year,
    days_in_month,
    days_reported,
    days_reported = days_in_month as is_complete
from counted
