"""Least-privilege roles (corridor.roles): each role can do its job and nothing else,
``corridor warehouse init`` twice changes nothing, and a pipeline run connects as the
stages' roles only, none a superuser."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from corridor.config import (
    FEED_CONN_IDS,
    WAREHOUSE_CONN_ID,
    WAREHOUSE_ROLES,
    Settings,
    WarehouseDsn,
    connection_env_name,
    get_warehouse_dsn,
    role_name,
    warehouse_conn_id,
)
from corridor.roles import init_warehouse
from corridor.warehouse import embedded_uri
from tests.databases import ROLE_PASSWORDS as PASSWORDS
from tests.databases import as_role, temporary_database


@pytest.fixture()
def warehouse(warehouse_server: WarehouseDsn) -> Iterator[WarehouseDsn]:
    """An initialised warehouse (the admin's DSN) with one mart table built by the
    transformer, as dbt would (its grants as the marts' ``grants`` config gives them)."""
    with temporary_database(warehouse_server, "roles") as admin:
        init_warehouse(admin, PASSWORDS)
        with psycopg.connect(as_role(admin, "transformer").conninfo) as conn:
            conn.execute("create table marts.dim_probe (x int)")
            conn.execute("insert into marts.dim_probe values (1)")
            conn.execute("grant select on marts.dim_probe to corridor_analyst")
        yield admin


def _attempt(dsn: WarehouseDsn, statement: str, *, role: str | None = None) -> str | None:
    """Run ``statement`` (rolled back) as ``dsn``'s user, or ``set role`` first (the
    NOLOGIN analyst); None when it ran, else PostgreSQL's error."""
    with psycopg.connect(dsn.conninfo) as conn:
        try:
            if role:
                conn.execute(f"set role {role}")
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege as error:
            return str(error)
        finally:
            conn.rollback()
    return None


LOADED_UNIT = ("insert into raw.loaded_units (feed, unit, period_month, loaded_at, "
               "rows_loaded, rows_rejected) values ('rail', 'x', '2024-01', now(), 0, 0)")
#: (role, statement, allowed): the job, and what lies next to it
CASES = [
    ("loader", LOADED_UNIT, True),
    ("loader", "create table raw.probe (x int)", True),
    ("loader", "insert into ingest.comtrade_calls values (current_date, 1, null)", True),
    ("loader", "select * from marts.dim_probe", False),
    ("loader", "create table marts.probe (x int)", False),
    ("transformer", "select count(*) from raw.loaded_units", True),
    ("transformer", "create table staging.probe (x int)", True),
    ("transformer", "insert into ingest.dbt_builds (command, inputs) values ('build', '[]')",
     True),
    ("transformer", LOADED_UNIT, False),
    ("transformer", "insert into ingest.comtrade_calls values (current_date, 1, null)", False),
    ("transformer", "create role corridor_probe", False),
    ("gate", "select count(*) from raw.loaded_units", True),
    ("gate", "select * from marts.dim_probe", True),
    ("gate", "create table marts.probe (x int)", False),
    ("gate", "create table raw.probe (x int)", False),
    ("gate", "create table public.probe (x int)", False),
    ("gate", "create view reference.probe as select 1", False),
    ("gate", "create schema probe", False),
    ("gate", LOADED_UNIT, False),
    ("gate", "delete from marts.dim_probe", False),
    ("publisher", "select count(*) from raw.loaded_units", True),
    ("publisher", "select * from marts.dim_probe", True),
    ("publisher", "select * from ingest.dbt_builds", True),
    ("publisher", LOADED_UNIT, False),
    ("publisher", "update marts.dim_probe set x = 2", False),
    ("publisher", "create table marts.probe (x int)", False),
    ("publisher", "select * from staging.probe_absent", False),
    ("analyst", "select * from marts.dim_probe", True),
    ("analyst", "select count(*) from raw.loaded_units", False),
    ("analyst", "select count(*) from ingest.dbt_builds", False),
    ("analyst", "create table marts.probe (x int)", False),
]


def test_each_role_does_its_job_and_nothing_else(warehouse: WarehouseDsn) -> None:
    wrong = []
    for role, statement, allowed in CASES:
        if role == "analyst":  # NOLOGIN: as a login role granted it would be
            refused = _attempt(warehouse, statement, role="corridor_analyst")
        else:
            refused = _attempt(as_role(warehouse, role), statement)
        if (refused is None) != allowed:
            wrong.append(f"{role}: {statement}: {'refused: ' + refused if refused else 'ran'}")
    assert not wrong, "\n".join(wrong)


def test_no_role_is_privileged_and_no_role_owns_every_schema(warehouse: WarehouseDsn) -> None:
    with psycopg.connect(warehouse.conninfo) as conn:
        roles = dict(conn.execute(
            "select rolname, array[rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
            "rolcanlogin] from pg_roles where rolname like 'corridor\\_%'").fetchall())
        owners = dict(conn.execute(
            "select nspname, pg_get_userbyid(nspowner) from pg_namespace "
            "where nspname in ('raw', 'ingest', 'staging', 'intermediate', 'marts', "
            "'reference', 'analytics')").fetchall())
    assert roles == {**{role_name(r): [False, False, False, False, True]
                        for r in WAREHOUSE_ROLES},
                     "corridor_analyst": [False, False, False, False, False]}
    assert owners == {"raw": "corridor_loader", "ingest": "corridor_loader",
                      **{s: "corridor_transformer" for s in
                         ("staging", "intermediate", "marts", "reference", "analytics")}}


def _catalog(dsn: WarehouseDsn) -> dict:
    """What init decides: the roles, schemas, tables, their owners and privileges."""
    with psycopg.connect(dsn.conninfo) as conn:
        return {
            "roles": conn.execute(
                "select rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin "
                "from pg_roles where rolname like 'corridor\\_%' order by 1").fetchall(),
            "schemas": conn.execute(
                "select nspname, pg_get_userbyid(nspowner), nspacl::text from pg_namespace "
                "order by 1").fetchall(),
            "tables": conn.execute(
                "select n.nspname, c.relname, pg_get_userbyid(c.relowner), c.relacl::text "
                "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') "
                "order by 1, 2").fetchall(),
            "defaults": conn.execute(
                "select pg_get_userbyid(defaclrole), defaclnamespace::regnamespace::text, "
                "defaclobjtype, defaclacl::text from pg_default_acl order by 1, 2, 3"
            ).fetchall(),
            "database": conn.execute(
                "select datacl::text from pg_database where datname = current_database()"
            ).fetchall(),
        }


def test_init_twice_is_a_no_op(warehouse: WarehouseDsn) -> None:
    before = _catalog(warehouse)
    assert len(before["tables"]) > 10 and before["defaults"]  # raw's tables, its readers
    init_warehouse(warehouse, PASSWORDS)
    assert _catalog(warehouse) == before
    # the passwords are still the ones the connections hold
    for role in WAREHOUSE_ROLES:
        with psycopg.connect(as_role(warehouse, role).conninfo) as conn:
            assert conn.execute("select current_user").fetchone()[0] == role_name(role)


def test_init_takes_a_role_made_by_hand_back_to_its_attributes(warehouse: WarehouseDsn
                                                                ) -> None:
    with psycopg.connect(warehouse.conninfo, autocommit=True) as conn:
        conn.execute("alter role corridor_gate createdb createrole")
    try:
        init_warehouse(warehouse, PASSWORDS)
        with psycopg.connect(warehouse.conninfo) as conn:
            assert conn.execute("select rolcreatedb or rolcreaterole from pg_roles "
                                "where rolname = 'corridor_gate'").fetchone()[0] is False
    finally:
        with psycopg.connect(warehouse.conninfo, autocommit=True) as conn:
            conn.execute("alter role corridor_gate nocreatedb nocreaterole")


def test_a_warehouse_built_before_the_roles_is_handed_to_them(warehouse_server) -> None:
    """A warehouse whose tables its superuser created (before this version): init makes
    the loader their owner, so it can still migrate and load them."""
    from corridor.load.raw import ensure_raw_schema

    with temporary_database(warehouse_server, "roles") as admin:
        with psycopg.connect(admin.conninfo, autocommit=True) as conn:
            ensure_raw_schema(conn)
        init_warehouse(admin, PASSWORDS)
        assert _attempt(as_role(admin, "loader"), LOADED_UNIT) is None
        assert _attempt(as_role(admin, "loader"),
                        "alter table raw.loaded_units add column probe int") is None


def test_the_stages_find_their_role_connections(warehouse: WarehouseDsn, monkeypatch) -> None:
    admin_env = connection_env_name(WAREHOUSE_CONN_ID)
    monkeypatch.setenv(admin_env, embedded_uri(warehouse))
    for role in WAREHOUSE_ROLES:
        monkeypatch.delenv(connection_env_name(warehouse_conn_id(role)), raising=False)
    # not configured: the admin's server and database as the role, never as the admin
    assert get_warehouse_dsn("gate") == WarehouseDsn(
        warehouse.host, warehouse.port, "corridor_gate", "", warehouse.dbname)
    monkeypatch.setenv(connection_env_name(warehouse_conn_id("gate")),
                       embedded_uri(as_role(warehouse, "gate")))
    assert get_warehouse_dsn("gate") == as_role(warehouse, "gate")
    with pytest.raises(ValueError, match="unknown warehouse role"):
        get_warehouse_dsn("postgres")


class Sessions(threading.Thread):
    """Who is connected to a database, sampled from ``pg_stat_activity`` until stopped."""

    def __init__(self, admin: WarehouseDsn):
        super().__init__(daemon=True)
        self.admin, self.seen, self.stop = admin, set(), threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.admin.conninfo, autocommit=True) as conn:
            while not self.stop.is_set():
                self.seen.update(conn.execute(
                    "select usename, coalesce(application_name, '') from pg_stat_activity "
                    "where datname = %s and backend_type = 'client backend' "
                    "and pid <> pg_backend_pid()",
                    (self.admin.dbname,)).fetchall())
                self.stop.wait(0.02)


def test_a_pipeline_run_connects_as_the_stage_roles_only(warehouse: WarehouseDsn, tmp_path,
                                                        monkeypatch) -> None:
    """The DAGs as ``corridor run`` runs them, with only the four role connections (no
    admin connection in the tasks' environment)."""
    from corridor.runner import run_pipeline
    from corridor.simulator import SimConfig, connection_uris, start_simulator
    from tests.conftest import TEST_HOME

    settings = Settings(period_from="2024-12", period_to="2024-12", home_dir=TEST_HOME,
                        publish_dir=tmp_path / "published", landing_dir=tmp_path / "landing")
    monkeypatch.delenv(connection_env_name(WAREHOUSE_CONN_ID), raising=False)
    for role in WAREHOUSE_ROLES:
        monkeypatch.setenv(connection_env_name(warehouse_conn_id(role)),
                           embedded_uri(as_role(warehouse, role)))
    for field in ("period_from", "period_to", "home_dir", "publish_dir", "landing_dir"):
        monkeypatch.setenv(f"CORRIDOR_{field.upper()}", str(getattr(settings, field)))
    sessions = Sessions(warehouse)
    with start_simulator(SimConfig(seed=7, scale=0.05, first_month=settings.ingest_from,
                                   last_month=settings.period_to)) as simulator:
        for name, uri in connection_uris(simulator.base_url).items():
            assert name in {connection_env_name(c) for c in FEED_CONN_IDS.values()}
            monkeypatch.setenv(name, uri)
        sessions.start()
        try:
            run_pipeline(settings)
        finally:
            sessions.stop.set()
            sessions.join()
    assert (settings.publish_dir / "LATEST").exists()  # every stage did its job

    users = {user for user, _ in sessions.seen}
    assert users == {role_name(role) for role in WAREHOUSE_ROLES}, sessions.seen
    with psycopg.connect(warehouse.conninfo) as conn:
        assert not conn.execute("select bool_or(rolsuper) from pg_roles where rolname = any(%s)",
                                (sorted(users),)).fetchone()[0]
    # the stages' own connections name them: the publish lock and snapshot as the
    # publisher, dbt's build lock as the transformer
    assert ("corridor_publisher", "corridor publish") in sessions.seen
    assert ("corridor_transformer", "corridor lock corridor:warehouse_build") in sessions.seen


def test_cli_init_reads_the_admin_and_role_connections(warehouse: WarehouseDsn) -> None:
    """``corridor warehouse init`` with the admin URI in its environment variable (off
    the command line); a role connection that logs in as someone else is refused."""
    from typer.testing import CliRunner

    from corridor.cli import app

    env = {connection_env_name(WAREHOUSE_CONN_ID): embedded_uri(warehouse),
           **{connection_env_name(warehouse_conn_id(role)): embedded_uri(as_role(warehouse, role))
              for role in WAREHOUSE_ROLES}}
    before = _catalog(warehouse)
    result = CliRunner().invoke(app, ["warehouse", "init"], env=env)
    assert result.exit_code == 0, result.output
    assert _catalog(warehouse) == before
    env[connection_env_name(warehouse_conn_id("gate"))] = embedded_uri(warehouse)  # the admin
    result = CliRunner().invoke(app, ["warehouse", "init"], env=env)
    assert result.exit_code == 2
    assert "logs in as" in result.output


def test_corridor_run_initialises_the_warehouse_it_uses(warehouse_server, monkeypatch) -> None:
    """``corridor run``/``up`` (cli.ensure_warehouse): with the admin connection it runs
    init; with all four role connections it leaves the warehouse to the deployment's."""
    from corridor.cli import ensure_warehouse

    with temporary_database(warehouse_server, "roles") as admin:
        monkeypatch.setenv(connection_env_name(WAREHOUSE_CONN_ID), embedded_uri(admin))
        for role in WAREHOUSE_ROLES:
            monkeypatch.delenv(connection_env_name(warehouse_conn_id(role)), raising=False)
        assert ensure_warehouse(Settings()).endswith("roles initialised")
        assert _attempt(as_role(admin, "loader"), LOADED_UNIT) is None
    with temporary_database(warehouse_server, "roles") as deployed:
        monkeypatch.delenv(connection_env_name(WAREHOUSE_CONN_ID))
        for role in WAREHOUSE_ROLES:
            monkeypatch.setenv(connection_env_name(warehouse_conn_id(role)),
                               embedded_uri(as_role(deployed, role)))
        assert ensure_warehouse(Settings()) == "configured corridor_warehouse_* role connections"
        with psycopg.connect(deployed.conninfo) as conn:
            assert conn.execute("select to_regnamespace('raw')").fetchone()[0] is None


def test_only_the_loader_records_the_rolling_window(warehouse: WarehouseDsn, monkeypatch) -> None:
    """Before any poll, a reading stage resolves the rolling window from the publishers
    for itself (it may not write ingest.coverage_window); the loader's poll records it."""
    from corridor.simulator import SimConfig, connection_uris, start_simulator
    from corridor.window import resolve

    def recorded() -> list[tuple]:
        with psycopg.connect(warehouse.conninfo) as conn:
            return conn.execute("select period_from, period_to from ingest.coverage_window"
                                ).fetchall()

    with start_simulator(SimConfig(scale=0.05, first_month="2024-01",
                                   last_month="2024-12")) as sim:
        for name, uri in connection_uris(sim.base_url).items():
            monkeypatch.setenv(name, uri)
        publisher = resolve(Settings(window_months=3), dsn=as_role(warehouse, "publisher"))
        assert (publisher.period_from, publisher.period_to) == ("2024-10", "2024-12")
        assert recorded() == []
        resolve(Settings(window_months=3), dsn=as_role(warehouse, "loader"), refresh=True)
    assert recorded() == [("2024-10", "2024-12")]


def test_corridor_up_hands_its_services_the_role_connections_only(warehouse: WarehouseDsn,
                                                                  monkeypatch) -> None:
    from corridor.stack import role_connections_env

    admin = connection_env_name(WAREHOUSE_CONN_ID)
    monkeypatch.setenv(admin, embedded_uri(warehouse))
    for role in WAREHOUSE_ROLES:
        monkeypatch.delenv(connection_env_name(warehouse_conn_id(role)), raising=False)
    given = embedded_uri(as_role(warehouse, "gate"))
    env = role_connections_env({admin: embedded_uri(warehouse), "PATH": "/bin",
                                connection_env_name(warehouse_conn_id("gate")): given})
    assert admin not in env and env["PATH"] == "/bin"
    assert env[connection_env_name(warehouse_conn_id("gate"))] == given
    for role in ("loader", "transformer", "publisher"):
        dsn = WarehouseDsn.from_uri(env[connection_env_name(warehouse_conn_id(role))])
        assert (dsn.user, dsn.dbname) == (role_name(role), warehouse.dbname)
