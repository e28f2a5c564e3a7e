-- Partner-side rows mirroring the reporters' flows (national feed for RUS-KAZ,
-- Comtrade leaves otherwise), with the per-row FOB conversion.
-- Incremental: rebuilds the changed months only (macros/changed_periods.sql).
{{ config(materialized='incremental', unique_key='period_month',
          indexes=[{'columns': ['period_month']}]) }}
-- depends_on: {{ ref('int_periods_changed') }}
select *
from {{ ref('int_mirror_flows_unioned') }}
where {{ corridor_changed_periods() }}
