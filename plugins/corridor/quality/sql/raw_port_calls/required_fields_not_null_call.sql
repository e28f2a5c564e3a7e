select *
from {batch} as b
where call_id is null
    or port is null
    or version is null
    or updated_at is null
    or status is null
