{#-
  The incremental facts are rebuilt by period (see _macros__docs.yml): every run
  replaces the periods int_periods_changed lists, and only those, in each of them.

  dbt's own delete+insert deletes only the keys present in the new rows, so a period
  that now yields no rows (it left the window, its last unit vanished, a year that is no
  longer complete for any reporter) would keep its old ones. The `replace_periods`
  strategy is delete+insert with the delete driven by the changed periods instead.
-#}

{#- The changed months, as a list of 'YYYY-MM' strings, read at run time (empty at
    parse time). They include the months that left the window: their rows are deleted,
    and the window filter of corridor_changed_periods keeps them from being read. -#}
{% macro corridor_changed_months() -%}
    {%- set relation = ref('int_periods_changed') -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set result = run_query(
        "select period_month from " ~ relation ~ " where is_changed order by 1") -%}
    {{ return(result.columns[0].values() | list) }}
{%- endmacro %}

{#- SQL list of quoted literals, or `(null)` for none (`x in (null)` is never true). -#}
{% macro corridor_sql_list(values) -%}
    ({%- for value in values %}'{{ value }}'{{ ", " if not loop.last }}{%- else %}null{%- endfor %})
{%- endmacro %}

{#- Predicate on the rows of the changed periods.
    key 'period_month': the months of the ingest window, and on an incremental run
    only the changed ones (whole_years: every month of their years, what an annual
    cell is built from). key ['freq', 'time_period']: on an incremental run, the cells
    of the changed months ('M') and of their years ('A'); `true` on a full build.
    for_delete: without the window (the delete of the replace_periods strategy: the
    months that left the window go too). -#}
{% macro corridor_changed_periods(key='period_month', whole_years=false, relation=none,
                                  for_delete=false) -%}
    {%- set prefix = (relation ~ '.') if relation else '' -%}
    {%- set months = corridor_changed_months() if is_incremental() else [] -%}
    {%- set years = [] -%}
    {%- for month in months if month[:4] not in years -%}
        {%- do years.append(month[:4]) -%}
    {%- endfor -%}
    {%- if key == 'period_month' -%}
        {%- if whole_years -%}
            {%- set months = [] -%}
            {%- for year in years -%}
                {%- for month in range(1, 13) -%}
                    {%- do months.append(year ~ '-' ~ '%02d' | format(month)) -%}
                {%- endfor -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if not for_delete -%}
    {{ prefix }}period_month between '{{ ingest_from() }}' and '{{ var("period_to") }}'
        {%- endif -%}
        {%- if is_incremental() %}
    {{ 'and ' if not for_delete }}{{ prefix }}period_month in {{ corridor_sql_list(months) }}
        {%- endif -%}
    {%- elif key | list == ['freq', 'time_period'] -%}
        {%- if is_incremental() -%}
    (({{ prefix }}freq = 'M' and {{ prefix }}time_period in {{ corridor_sql_list(months) }})
        or ({{ prefix }}freq = 'A' and {{ prefix }}time_period in {{ corridor_sql_list(years) }}))
        {%- else -%}
    true
        {%- endif -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("corridor_changed_periods: unknown key " ~ key) }}
    {%- endif -%}
{%- endmacro %}

{#- Incremental strategy `replace_periods` (config incremental_strategy): delete the
    target's rows of the changed periods (unique_key names the period: 'period_month'
    or ['freq', 'time_period']), then insert the new rows, in one transaction. -#}
{% macro get_incremental_replace_periods_sql(arg_dict) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ corridor_changed_periods(arg_dict['unique_key'], for_delete=true) }};
    {{ get_incremental_append_sql(arg_dict) }}
{%- endmacro %}
