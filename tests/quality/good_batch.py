"""The good batch of the quality tests: a minimal warehouse passing every critical check.

``good_batch.sql`` holds the raw rows and the marts rows; the seeds the checks read
are loaded into ``reference`` as dbt loads them, and the ``marts.dim_*`` are built from
them as the dbt models do (only the columns the checks use).
"""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg

from corridor.config import PROJECT_DIR, WarehouseDsn
from corridor.load.raw import SCHEMA_SQL

GOOD_BATCH_SQL = Path(__file__).with_name("good_batch.sql")
SEEDS = PROJECT_DIR / "dbt_project" / "seeds"

#: The seeds the checks read, as dbt loads them (text columns) into ``reference``.
REFERENCE_SEEDS = ("ref_countries", "ref_hs_products", "ref_caspian_ports",
                   "ref_rail_crossings", "ref_corridors")
#: marts.dim_* as the dbt models build them from the seeds (the columns the checks use).
DIMENSIONS_SQL = """
create table marts.dim_countries as
    select iso3 as country_iso3, iso2 as country_iso2, m49 as m49_code,
           is_eaeu::boolean as is_eaeu
    from reference.ref_countries;
create table marts.dim_hs_products as
    select hs_version, hs_code, level::integer as hs_level, parent as parent_hs_code
    from reference.ref_hs_products;
create table marts.dim_ports as
    select locode as port_locode, role as port_role, role = 'feed_port' as is_feed_port,
           corridor, utc_offset
    from reference.ref_caspian_ports;
create table marts.dim_rail_crossings as
    select point as crossing_point, corridor from reference.ref_rail_crossings;
create table marts.dim_corridors as
    select corridor, name as corridor_name from reference.ref_corridors;
"""

#: The record a finished dbt build of these marts leaves (corridor.transform.run_dbt).
BUILD_SQL = """
insert into ingest.dbt_builds (command, finished_at, success, inputs)
select 'build', now(), true, jsonb_agg(jsonb_build_object(
           'feed', feed, 'unit', unit, 'period_month', period_month,
           'revision', revision, 'status', status) order by feed, unit)
from raw.loaded_units;
"""


def load_good_batch(dsn: WarehouseDsn) -> None:
    """Create the good batch in the (empty) database ``dsn``."""
    with psycopg.connect(dsn.conninfo) as conn:
        conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
        conn.execute("create schema reference")
        for seed in REFERENCE_SEEDS:
            with (SEEDS / f"{seed}.csv").open(encoding="utf-8", newline="") as handle:
                rows = list(csv.reader(handle))
            columns = ", ".join(f'"{name}" text' for name in rows[0])
            conn.execute(f"create table reference.{seed} ({columns})")
            with conn.cursor().copy(f"copy reference.{seed} from stdin") as copy:
                for row in rows[1:]:
                    copy.write_row(row)
        conn.execute(GOOD_BATCH_SQL.read_text(encoding="utf-8"))
        conn.execute(DIMENSIONS_SQL)
        conn.execute(BUILD_SQL)
