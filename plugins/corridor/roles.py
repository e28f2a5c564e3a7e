"""Least-privilege warehouse roles: what ``corridor warehouse init`` creates and grants.

=====================  =====  ===========================================================
role                   login  may
=====================  =====  ===========================================================
corridor_loader        yes    own ``raw`` and ``ingest`` and every table in them (the feed
                              loads, their bookkeeping, the DDL of ``raw_schema.sql``)
corridor_transformer   yes    read ``raw`` and ``ingest``, record its builds in
                              ``ingest.dbt_builds``; own what dbt builds: ``staging``,
                              ``intermediate``, ``marts``, ``reference`` (seeds) and
                              ``analytics`` (the profile's target schema)
corridor_gate          yes    read ``raw``, ``ingest``, ``reference``, ``marts`` (the GX
                              checks, ``dbt source freshness``)
corridor_publisher     yes    read ``raw``, ``ingest``, ``reference``, ``marts`` (a release,
                              its inputs and feed status)
corridor_analyst       no     read ``marts`` (grant it to analysts' login roles)
=====================  =====  ===========================================================

No role is a superuser, may create roles or databases, or owns every schema; nothing
is granted to PUBLIC. Tables the loader creates later get their readers' SELECT by
default privileges; dbt's tables get theirs from dbt's ``grants`` config
(``dbt_project.yml``), so a rebuilt table is never without them.

Passwords: a login role's password is the one in its connection
(``AIRFLOW_CONN_CORRIDOR_WAREHOUSE_<ROLE>``) when that is set; init sets it (hashed
client-side with SCRAM, so the server's statement log never sees it). A role whose
connection is not set keeps its password (none when new) and is reached as
:func:`corridor.config.get_warehouse_dsn` says: on a server that trusts local
connections, such as the embedded one.

The admin (``corridor_warehouse``) must be able to create roles and to ``SET ROLE`` to
the corridor roles: a superuser, or the roles' creator with ``createrole_self_grant =
'set'``. Init runs in one transaction; running it again changes nothing but the
password hashes (same passwords, new salts).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import psycopg
from psycopg import sql

from corridor.config import WAREHOUSE_ROLES, WarehouseDsn, configured_warehouse_dsn, role_name

log = logging.getLogger(__name__)

ANALYST = "analyst"
#: schemas each role owns (creates its tables in)
OWNS = {
    "loader": ("raw", "ingest"),
    "transformer": ("staging", "intermediate", "marts", "reference", "analytics"),
}
#: schemas each role reads (usage, and select on their tables)
READS = {
    "transformer": ("raw", "ingest"),
    "gate": ("raw", "ingest", "reference", "marts"),
    "publisher": ("raw", "ingest", "reference", "marts"),
    ANALYST: ("marts",),
}
#: the only writes a role makes in a schema it does not own
WRITES = {"transformer": {"ingest.dbt_builds": ("insert", "update")}}


def _ident(role: str) -> sql.Identifier:
    return sql.Identifier(role_name(role))


def role_passwords() -> dict[str, str | None]:
    """Each login role's password from its connection's environment variable
    (``AIRFLOW_CONN_CORRIDOR_WAREHOUSE_<ROLE>``; None: not set).

    Raises ValueError when a connection logs in as another role than its own."""
    passwords: dict[str, str | None] = {}
    for role in WAREHOUSE_ROLES:
        dsn = configured_warehouse_dsn(role)
        if dsn is not None and dsn.user != role_name(role):
            raise ValueError(f"the {role} connection logs in as {dsn.user!r}, not "
                             f"{role_name(role)!r}")
        passwords[role] = dsn.password if dsn is not None else None
    return passwords


def _ensure_role(conn: psycopg.Connection, role: str, *, login: bool,
                 password: str | None) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s",
                          (role_name(role),)).fetchone()
    attributes = sql.SQL(("login" if login else "nologin")
                         + " nosuperuser nocreatedb nocreaterole nobypassrls")
    if not exists:
        conn.execute(sql.SQL("create role {}").format(_ident(role)))
        log.info("created role %s", role_name(role))
    # also when it exists: a role made by hand gets exactly these
    conn.execute(sql.SQL("alter role {} {}").format(_ident(role), attributes))
    if password:
        hashed = conn.pgconn.encrypt_password(password.encode(), role_name(role).encode(),
                                              b"scram-sha-256")
        conn.execute(sql.SQL("alter role {} password {}")
                     .format(_ident(role), sql.Literal(hashed.decode())))


def _ensure_schema(conn: psycopg.Connection, schema: str, owner: str) -> None:
    """The schema, owned by ``owner`` with everything in it (a warehouse built before
    the roles has its tables owned by whoever built them)."""
    conn.execute(sql.SQL("create schema if not exists {} authorization {}")
                 .format(sql.Identifier(schema), _ident(owner)))
    conn.execute(sql.SQL("alter schema {} owner to {}")
                 .format(sql.Identifier(schema), _ident(owner)))
    # tables, views, materialised views (a table's sequences and indexes follow it)
    others = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm') "
        "and pg_get_userbyid(c.relowner) <> %s", (schema, role_name(owner))).fetchall()
    for (relname,) in others:
        conn.execute(sql.SQL("alter table {} owner to {}")
                     .format(sql.Identifier(schema, relname), _ident(owner)))


def init_warehouse(admin: WarehouseDsn, passwords: Mapping[str, str | None] | None = None
                   ) -> None:
    """Create the roles, schemas and grants of the module doc in ``admin``'s database
    (idempotent). ``passwords``: by login role (default :func:`role_passwords`)."""
    from corridor.load.raw import ensure_raw_schema

    passwords = role_passwords() if passwords is None else passwords
    with psycopg.connect(admin.conninfo, application_name="corridor warehouse init") as conn:
        # two inits of one database at once take turns
        conn.execute("select pg_advisory_xact_lock(hashtextextended('corridor:roles', 0))")
        for role in WAREHOUSE_ROLES:
            _ensure_role(conn, role, login=True, password=passwords.get(role))
        _ensure_role(conn, ANALYST, login=False, password=None)

        database = sql.Identifier(admin.dbname)
        if conn.execute("select 1 from pg_namespace where nspname = 'public'").fetchone():
            conn.execute("revoke create on schema public from public")  # before PG 15
        for role in (*WAREHOUSE_ROLES, ANALYST):
            conn.execute(sql.SQL("grant connect on database {} to {}")
                         .format(database, _ident(role)))
        for owner, schemas in OWNS.items():
            for schema in schemas:
                _ensure_schema(conn, schema, owner)

        # the loader's tables, created as the loader (it owns and migrates them)
        conn.execute(sql.SQL("set local role {}").format(_ident("loader")))
        ensure_raw_schema(conn)
        conn.execute("reset role")

        for reader, schemas in READS.items():
            for schema in schemas:
                owner = next(o for o, owned in OWNS.items() if schema in owned)
                conn.execute(sql.SQL("grant usage on schema {} to {}")
                             .format(sql.Identifier(schema), _ident(reader)))
                conn.execute(sql.SQL("grant select on all tables in schema {} to {}")
                             .format(sql.Identifier(schema), _ident(reader)))
                conn.execute(sql.SQL("alter default privileges for role {} in schema {} "
                                     "grant select on tables to {}")
                             .format(_ident(owner), sql.Identifier(schema), _ident(reader)))
        for role, tables in WRITES.items():
            for table, privileges in tables.items():
                conn.execute(sql.SQL("grant {} on table {} to {}").format(
                    sql.SQL(", ").join(sql.SQL(p) for p in privileges),
                    sql.Identifier(*table.split(".")), _ident(role)))
    log.info("warehouse %s initialised: roles %s", admin.dbname,
             ", ".join(role_name(r) for r in (*WAREHOUSE_ROLES, ANALYST)))
