-- The ingested months whose inputs changed since the last complete build: the periods
-- the incremental facts rebuild (macros/changed_periods.sql). One row per current month
-- with its inputs as text, and one per month the last build held that is no longer
-- ingested (inputs null: it left the window).
--
-- A month's inputs: its customs and Comtrade units in raw.loaded_units (revision,
-- status, sha256, rows), Comtrade's reporting probes, whether it is published, and a
-- digest of the seeds every fact maps codes and reporters with (ref_countries,
-- ref_reporters). The last complete
-- build's are in int_period_inputs_recorded, written after every incremental fact was
-- built: a build killed or failed before it leaves the old record, so the next build
-- rebuilds the same months again. A month this model flagged in a build that never
-- reached the record is flagged again, even if its inputs went back to the recorded
-- ones meanwhile (the facts may hold it as that build made it).
{%- set built = adapter.get_relation(this.database, this.schema, 'int_period_inputs_recorded')
    if execute else none %}
{%- set previous = adapter.get_relation(this.database, this.schema, this.identifier)
    if execute else none %}
with

periods as (

    select period_month, is_published from {{ ref('int_periods_enumerated') }}

),

units as (

    select
        period_month,
        feed || ':' || unit || ':' || coalesce(revision::text, '') || ':' || coalesce(status, '')
        || ':' || coalesce(sha256, loaded_at::text) || ':' || rows_loaded::text as unit_state
    from {{ ref('stg_raw__loaded_units') }}
    where feed in {{ customs_feeds() }} or feed = 'comtrade'

),

reporting as (

    select period_month, 'reported:' || reporter_code || ':' || has_reported as unit_state
    from {{ ref('stg_comtrade__reporting') }}

),

seeds as (

    select
        (
            select md5(string_agg(countries::text, ',' order by countries::text))
            from {{ ref('ref_countries') }} as countries
        ) as countries_md5,
        (
            select md5(string_agg(reporters::text, ',' order by reporters::text))
            from {{ ref('ref_reporters') }} as reporters
        ) as reporters_md5

),

current_inputs as (

    select
        periods.period_month,
        concat_ws(
            ',',
            'published:' || periods.is_published,
            'ref_countries:' || seeds.countries_md5,
            'ref_reporters:' || seeds.reporters_md5,
            (
                select string_agg(inputs.unit_state, ',' order by inputs.unit_state)
                from (
                    select unit_state from units where units.period_month = periods.period_month
                    union all
                    select unit_state from reporting
                    where reporting.period_month = periods.period_month
                ) as inputs
            )
        ) as period_inputs
    from periods
    cross join seeds

),

{% if built is not none %}
built_inputs as (

    select period_month, period_inputs, changed_in from {{ built }}

),
{% endif %}

-- noqa: disable=LT02,ST05,AL09
-- (the if-branches below render in different layouts; sqlfluff lints one of them)
compared as (

    select
        coalesce(current_inputs.period_month, built_inputs.period_month) as period_month,
        current_inputs.period_inputs,
        (built_inputs.period_inputs is distinct from current_inputs.period_inputs) as is_changed
    from current_inputs
    {%- if built is not none %}
    full outer join built_inputs using (period_month)
    {%- else %}
    -- no build recorded yet: every month is new
    left join (select null::text as period_month, null::text as period_inputs) as built_inputs
        on false
    {%- endif %}

)

select
    compared.period_month,
    left(compared.period_month, 4) as period_year,
    compared.period_inputs,
    compared.is_changed
    {%- if previous is not none and built is not none %}
        -- flagged by a build that did not reach the record
        or compared.period_month in (
            select period_month from {{ previous }}
            where is_changed
              and changed_in is distinct from (select max(changed_in) from built_inputs)
        )
    {%- endif %} as is_changed,
    '{{ invocation_id }}'::text as changed_in
from compared
-- noqa: enable=all
