-- A feed's rows whose (unit, revision) is not the unit's loaded revision in
-- raw.loaded_units (unit_text: the row's unit as raw.loaded_units spells it).
select r.$unit_column,
       r.revision,
       count(*) as rows_count
from {batch} as r
where not exists
        (select 1
         from raw.loaded_units as u
         where u.feed = '$feed'
             and u.unit = $unit_text
             and u.revision = r.revision)
group by r.$unit_column,
         r.revision
