{#-
  Incremental facts keyed by period (see _macros__docs.yml).

  Every incremental model carries `period_fingerprint`: a digest of everything in
  raw.loaded_units (and, for mirror cells, raw.comtrade_reporting) that its rows of
  that period were built from, plus the period's place in the window. A run:

  1. pre-hook (corridor_delete_stale_periods): deletes the target rows whose
     (key, period_fingerprint) is not a current one: revised units, periods that
     left the window (vars period_from/period_to) or vanished from raw;
  2. the model selects only the keys whose current fingerprint the target does not
     hold (corridor_affected_keys) and is appended (incremental_strategy 'append').

  A full refresh and any sequence of incremental runs therefore hold the same rows.
  An edit of the ref_countries seed changes every fingerprint (a digest of the seed is
  part of it): everything is rebuilt. Changes to raw rows that do not go through
  raw.loaded_units (the loaders always record the unit) are not seen: run with
  --full-refresh after such a manual edit.
-#}

{#- (period_month, period_fingerprint) for every ingested month. A unit is identified
    by (feed, unit, revision, status, sha256, rows_loaded); loaded_at stands in for
    sha256 where a unit has none (hand-made fixtures). -#}
{% macro corridor_period_fingerprints(feeds, with_published=false,
                                      with_comtrade_reporting=false) -%}
    select
        periods.period_month,
        md5(
            periods.period_month
            {%- if with_published %} || '|' || periods.is_published::text{% endif %}
            -- the reference countries every incremental fact maps codes with (an
            -- uncorrelated subquery: computed once per run, not per month)
            || '|' || coalesce((
                select md5(string_agg(countries::text, ',' order by countries::text))
                from {{ ref('ref_countries') }} as countries
            ), '')
            || '|' || coalesce((
                select string_agg(
                    units.feed || ':' || units.unit || ':' || coalesce(units.revision::text, '')
                        || ':' || coalesce(units.status, '')
                        || ':' || coalesce(units.sha256, units.loaded_at::text)
                        || ':' || units.rows_loaded::text,
                    ',' order by units.feed, units.unit)
                from {{ ref('stg_raw__loaded_units') }} as units
                where units.period_month = periods.period_month
                  and units.feed in ('{{ feeds | join("', '") }}')
            ), '')
            {%- if with_comtrade_reporting %}
            || '|' || coalesce((
                select string_agg(
                    reporting.reporter_code::text || ':' || reporting.has_reported::text,
                    ',' order by reporting.reporter_code)
                from {{ ref('stg_comtrade__reporting') }} as reporting
                where reporting.period_month = periods.period_month
            ), '')
            {%- endif %}
        ) as period_fingerprint
    from {{ ref('int_periods_enumerated') }} as periods
    -- a fence: the digests are computed once per month, never pulled up into a
    -- join and re-evaluated per fact row
    offset 0
{%- endmacro %}

{#- (freq, time_period, period_fingerprint) of the cells: 'M' per month, 'A' per year
    from the fingerprints of its ingested months. -#}
{% macro corridor_cell_fingerprints(month_fingerprints_sql) -%}
    select 'M'::text as freq, period_month as time_period, period_fingerprint
    from ({{ month_fingerprints_sql }}) as months
    union all
    select 'A'::text as freq, left(period_month, 4) as time_period,
        md5(string_agg(period_month || '=' || period_fingerprint, ',' order by period_month))
            as period_fingerprint
    from ({{ month_fingerprints_sql }}) as months
    group by left(period_month, 4)
{%- endmacro %}

{#- Whether this run is incremental on a target that already has period_fingerprint. -#}
{% macro corridor_has_fingerprints() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {{ return('period_fingerprint' in columns) }}
{%- endmacro %}

{#- The current (key, fingerprint) rows the target does not hold yet: all of them on
    a first run or a full refresh. The held check is a correlated subquery with a
    LIMIT, so PostgreSQL runs it as one probe per key through the target's
    (key..., period_fingerprint) index (config `indexes` of each incremental model),
    never as a hash anti-join that reads the whole target (and enable_nestloop is off
    in these models, corridor_hash_joins_only). -#}
{% macro corridor_affected_keys(fingerprints_sql, key_columns) -%}
    select current_keys.*
    from ({{ fingerprints_sql }}) as current_keys
    {%- if corridor_has_fingerprints() %}
    where (
        select true from {{ this }} as held
        where held.period_fingerprint = current_keys.period_fingerprint
        {%- for column in key_columns %}
          and held.{{ column }} = current_keys.{{ column }}
        {%- endfor %}
        limit 1
    ) is null
    {%- endif %}
{%- endmacro %}

{#- Pre-hook: delete the rows of every key whose fingerprint is no longer current.

    Two kinds of stale key, each found through the target's index, not by a scan:
    1. a current key whose current fingerprint the target does not hold (a revised or
       newly loaded period): all its held rows are stale;
    2. a held key that is no longer current (the window moved): the current keys of a
       freq are a contiguous range of periods (int_periods_enumerated), so such a key
       lies before the first or after the last current period of its freq.
    The last key column is the period (`period_month`, or `time_period` after `freq`). -#}
{% macro corridor_delete_stale_periods(fingerprints_sql, key_columns) -%}
    {%- set period = key_columns[-1] -%}
    {%- set freqs = ['M', 'A'] if 'freq' in key_columns else [none] -%}
    {%- if is_incremental() and not corridor_has_fingerprints() -%}
    -- a table built before the facts were incremental: rebuild it whole
    -- (on_schema_change='append_new_columns' then adds period_fingerprint)
    delete from {{ this }}
    {%- elif is_incremental() -%}
    delete from {{ this }} as held
    where held.{{ period }} = any (array(
        select affected.{{ period }}
        from ({{ corridor_affected_keys(fingerprints_sql, key_columns) }}) as affected
    ))
    {%- for freq in freqs %}
    ;
    delete from {{ this }} as held
    where {% if freq %}held.freq = '{{ freq }}' and {% endif %}(
        held.{{ period }} < (
            select min(current_keys.{{ period }}) from ({{ fingerprints_sql }}) as current_keys
            {%- if freq %} where current_keys.freq = '{{ freq }}'{% endif %})
        or held.{{ period }} > (
            select max(current_keys.{{ period }}) from ({{ fingerprints_sql }}) as current_keys
            {%- if freq %} where current_keys.freq = '{{ freq }}'{% endif %})
    )
    {%- endfor %}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook for the models that join many CTEs: PostgreSQL estimates 1 row for most
    CTE scans and picks nested loops over tens of thousands of rows (ind_bilateral_trade
    took ~40 s instead of ~0.2 s on 60 months of medium data). Hash joins only, for
    this model's transaction. -#}
{% macro corridor_hash_joins_only() -%}
    set local enable_nestloop = off
{%- endmacro %}

{#- The months a set of cells (a relation with freq, time_period) is built from: each
    'M' cell's month and every month of each 'A' cell's year. -#}
{% macro corridor_months_of_cells(cells_relation) -%}
    select periods.period_month
    from {{ ref('int_periods_enumerated') }} as periods
    where exists (
        select 1 from {{ cells_relation }} as cells
        where (cells.freq = 'M' and cells.time_period = periods.period_month)
           or (cells.freq = 'A' and cells.time_period = left(periods.period_month, 4))
    )
{%- endmacro %}

{#- `<column> <this filter>`: the rows of the periods in `relation` (a CTE with a
    column of the same name). Incremental: `= any (array(...))`, an index scan of the
    few affected periods (enable_nestloop is off in these models, so an `in (select)`
    would become a hash join reading every period). First run or full refresh: every
    period is affected and `in (select ...)` lets PostgreSQL read the table sequentially. -#}
{% macro corridor_in_periods(column, relation) -%}
    {%- if corridor_has_fingerprints() -%}
    = any (array(select {{ column }} from {{ relation }}))
    {%- else -%}
    in (select {{ column }} from {{ relation }})
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: the (key..., period_fingerprint) index the probes and deletes above go
    through. dbt's `indexes` config creates it only with a new table (first run, full
    refresh); this adds it to a table built before, once. -#}
{% macro corridor_ensure_fingerprint_index(key_columns) -%}
    {%- set columns = (key_columns + ['period_fingerprint']) | join(', ') -%}
    do $corridor$
    begin
        if not exists (
            select 1 from pg_index as i
            where i.indrelid = '{{ this }}'::regclass
              and pg_get_indexdef(i.indexrelid) like '%({{ columns }})'
        ) then
            create index on {{ this }} ({{ columns }});
        end if;
    end
    $corridor$
{%- endmacro %}
