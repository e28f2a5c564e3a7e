-- Every ingested month (period_from - 12 .. period_to) with its publication flags.
with

months as (

    select month_start::date as month_start_date
    from generate_series(
        to_date('{{ ingest_from() }}', 'YYYY-MM'),
        to_date('{{ var("period_to") }}', 'YYYY-MM'),
        interval '1 month'
    ) as month_start

),

enumerated as (

    select
        to_char(month_start_date, 'YYYY-MM') as period_month,
        extract(year from month_start_date)::integer as period_year,
        extract(month from month_start_date)::integer as month_of_year,
        month_start_date,
        (month_start_date + interval '1 month' - interval '1 day')::date as month_end_date,
        extract(day from month_start_date + interval '1 month' - interval '1 day')::integer
        as days_in_month,
        {{ is_published_period("'M'", "to_char(month_start_date, 'YYYY-MM')") }}
        as is_published,
        -- freq A: the year's 12 months all lie in the published window
        {{ is_published_period("'A'", "extract(year from month_start_date)::text") }}
        as is_year_published,
        -- every enumerated month is in the ingest window (YoY bases included)
        true as is_ingested

    from months

)

select * from enumerated
