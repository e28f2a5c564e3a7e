select *
from {batch} as b
where feed in ($customs_feeds)
    and revision is null
