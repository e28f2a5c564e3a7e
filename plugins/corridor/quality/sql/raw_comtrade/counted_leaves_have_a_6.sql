select *
from {batch} as b
where is_counted_leaf
    and not (cmd_code ~ '^[0-9]+$'
             and length(cmd_code) = 6)
