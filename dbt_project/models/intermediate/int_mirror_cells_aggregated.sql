-- Mirror sums per (freq, reporter i, partner j, time_period), only where j has
-- reported: j's national feed month loaded (RUS-KAZ pair) or Comtrade's probe says
-- j reported month t. A reported month without rows for i gives 0. freq A only
-- when j reported all 12 months. is_provisional: the mirror source's units only.
-- Incremental by (freq, time_period): a changed month rebuilds its M cells and the
-- A cells of its year (macros/incremental_periods.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    indexes=[{'columns': ['time_period', 'freq', 'period_fingerprint']}],
    pre_hook=[
        "{{ corridor_hash_joins_only() }}",
        "{{ corridor_delete_stale_periods(corridor_cell_fingerprints(corridor_period_fingerprints(['ru_customs', 'kz_customs', 'comtrade'], with_comtrade_reporting=true)), ['freq', 'time_period']) }}"
    ],
    post_hook=["{{ corridor_ensure_fingerprint_index(['time_period', 'freq']) }}"]
) }}
with

affected as (

    {{ corridor_affected_keys(corridor_cell_fingerprints(corridor_period_fingerprints(['ru_customs', 'kz_customs', 'comtrade'], with_comtrade_reporting=true)), ['freq', 'time_period']) }}

),

-- the months the affected cells are built from
affected_months as (

    {{ corridor_months_of_cells('affected') }}

),

mirror_rows as (

    select * from {{ ref('int_mirror_flows_unioned') }}
    where period_month {{ corridor_in_periods("period_month", "affected_months") }}

),

feed_months as (

    select * from {{ ref('int_feed_months_statused') }}
    where period_month {{ corridor_in_periods("period_month", "affected_months") }}

),

countries as (

    select iso3, is_eaeu from {{ ref('ref_countries') }}

),

reporters as (

    select iso3 as reporter_iso3 from countries where iso3 in ('RUS', 'KAZ')

),

available_months as (

    -- (i, j, t) where j has reported t in the feed that mirrors i
    select
        reporters.reporter_iso3,
        feed_months.reporter_iso3 as partner_iso3,
        feed_months.period_month,
        feed_months.feed as mirror_source_feed,
        feed_months.is_provisional
    from feed_months
    cross join reporters
    where (
        feed_months.feed in ('ru_customs', 'kz_customs')
        and feed_months.reporter_iso3 <> reporters.reporter_iso3
    ) or (
        feed_months.feed = 'comtrade'
        and feed_months.reporter_iso3 not in ('RUS', 'KAZ')
    )

),

available_periods as (

    select
        'M'::text as freq, reporter_iso3, partner_iso3, period_month as time_period,
        mirror_source_feed, is_provisional
    from available_months

    union all

    select
        'A'::text as freq, reporter_iso3, partner_iso3, left(period_month, 4) as time_period,
        min(mirror_source_feed) as mirror_source_feed, bool_or(is_provisional) as is_provisional
    from available_months
    group by reporter_iso3, partner_iso3, left(period_month, 4)
    having count(*) = 12

),

rows_tagged as (

    select 'M'::text as freq, period_month as time_period, mirror_rows.* from mirror_rows
    union all
    select 'A'::text as freq, left(period_month, 4) as time_period, mirror_rows.* from mirror_rows

),

sums as (

    select
        freq, reporter_iso3, partner_iso3, time_period,
        sum(case when mirror_flow = 'X' then mirror_value_usd else 0 end) as mirror_x_usd,
        sum(case when mirror_flow = 'X' then mirror_value_fob_usd else 0 end) as mirror_x_fob_usd,
        sum(case when mirror_flow = 'M' then mirror_value_usd else 0 end) as mirror_m_usd
    from rows_tagged
    group by 1, 2, 3, 4

)

select
    available_periods.freq,
    available_periods.reporter_iso3,
    available_periods.partner_iso3,
    available_periods.time_period,
    coalesce(sums.mirror_x_usd, 0) as mirror_x_usd,
    coalesce(sums.mirror_x_fob_usd, 0) as mirror_x_fob_usd,
    coalesce(sums.mirror_m_usd, 0) as mirror_m_usd,
    -- the CIF/FOB factor of the pair: 1.00 within the EAEU, 1.06 otherwise
    (case when i.is_eaeu and j.is_eaeu then 1.00 else 1.06 end)::numeric as cif_fob_factor,
    available_periods.mirror_source_feed,
    available_periods.is_provisional,
    affected.period_fingerprint
from available_periods
inner join affected
    on affected.freq = available_periods.freq
    and affected.time_period = available_periods.time_period
inner join countries as i on i.iso3 = available_periods.reporter_iso3
inner join countries as j on j.iso3 = available_periods.partner_iso3
left join sums
    on sums.freq = available_periods.freq
    and sums.reporter_iso3 = available_periods.reporter_iso3
    and sums.partner_iso3 = available_periods.partner_iso3
    and sums.time_period = available_periods.time_period
