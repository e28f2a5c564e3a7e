-- The spec rounds by unit (USD 2, PCT and IDX 4, T 3, H 2, NUM and TEU 0): every
-- indicator of a unit has the same decimals in the catalogue, so obs_decimals may
-- look them up by unit_measure.
select unit_measure, count(distinct decimals) as decimals_count
from {{ ref('ref_indicators') }}
group by unit_measure
having count(distinct decimals) > 1
