select * from {{ ref('int_periods_enumerated') }}
