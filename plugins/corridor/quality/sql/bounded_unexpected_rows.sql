-- One statement per check (BoundedUnexpectedRows): the check's rows are computed once
-- (a materialized CTE), counted in PostgreSQL, and at most $sample_size of them are
-- returned, in a stable order. Always at least one row: the count, with null sample
-- columns when the check passes.
with unexpected_rows as materialized (
$unexpected_rows_query
),

sample as (
    select u.*
    from unexpected_rows as u
    order by u::text
    limit $sample_size
),

total as (
    select count(*) as unexpected_rows_count__
    from unexpected_rows
)

select total.unexpected_rows_count__, sample.*
from total
left join sample on true
order by sample::text
