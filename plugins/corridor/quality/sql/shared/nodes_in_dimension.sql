-- Observations of one kind of node (port, rail crossing, corridor) whose node is not
-- in its dimension.
select *
from {batch} as o
where o.indicator in ($indicators)
    and not exists
        (select 1
         from marts.$dimension as d
         where d.$key = o.node)
