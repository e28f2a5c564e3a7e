-- The inputs of every ingested month as the last complete build saw them: what
-- int_periods_changed compares the next build with. Built after every incremental fact
-- (the depends_on below), so a build killed or failed before it keeps the old record.
-- depends_on: {{ ref('int_trade_flows_harmonised') }}
-- depends_on: {{ ref('int_trade_cells_aggregated') }}
-- depends_on: {{ ref('int_mirror_flows_unioned') }}
-- depends_on: {{ ref('int_mirror_cells_aggregated') }}
-- depends_on: {{ ref('fct_trade_flows') }}
-- depends_on: {{ ref('fct_mirror_flows') }}
select period_month, period_inputs, changed_in
from {{ ref('int_periods_changed') }}
where period_inputs is not null
