select *
from {batch} as b
where call_id is null
    or version is null
    or line_number is null
    or operation is null
    or cargo_type is null
    or tonnes is null
