select corridor, name as corridor_name, description
from {{ ref('ref_corridors') }}
