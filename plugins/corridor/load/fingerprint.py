"""A comparable fingerprint of the raw schema: per table, row count and a checksum.

Two databases whose raw schemas hold the same rows have equal fingerprints, whatever
the physical row order; columns that record *when* something happened (``loaded_at``,
``synced_at``) are left out, so a replay or a rerun compares equal to a clean load.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

#: Columns stamped with the load time: never part of the fingerprint.
VOLATILE_COLUMNS = frozenset({"loaded_at", "synced_at"})


def table_columns(conn: psycopg.Connection, schema: str,
                  table: str | None = None) -> dict[str, list[str]]:
    """``table`` -> its columns in column order, for the base tables of ``schema`` (or
    for that one table or view)."""
    columns: dict[str, list[str]] = {}
    for name, column in conn.execute(
            """
            select c.table_name, c.column_name
            from information_schema.columns c
            join information_schema.tables t
              on t.table_schema = c.table_schema and t.table_name = c.table_name
            where c.table_schema = %s
              and (c.table_name = %s::text
                   or %s::text is null and t.table_type = 'BASE TABLE')
            order by c.table_name, c.ordinal_position
            """, (schema, table, table)).fetchall():
        columns.setdefault(name, []).append(column)
    return columns


def table_fingerprint(conn: psycopg.Connection, schema: str, table: str,
                      volatile: frozenset[str] = VOLATILE_COLUMNS,
                      columns: list[str] | None = None) -> tuple[int, str]:
    """``(row_count, md5)`` of one table, leaving out the ``volatile`` columns.

    The md5 is over the sorted md5s of each row's text (non-volatile columns in
    column order), so it needs one pass and memory per row of 32 bytes in the server,
    not the table's text. The one row digest of the project: the raw schema's
    fingerprint and the tests comparing marts use it.
    """
    if columns is None:
        columns = table_columns(conn, schema, table).get(table, [])
    names = [name for name in columns if name not in volatile]
    row_text = sql.SQL("md5(row({})::text)").format(
        sql.SQL(", ").join(sql.Identifier(name) for name in names))
    query = sql.SQL("select count(*), coalesce(md5(string_agg({row}, '' order by {row})),"
                    " md5('')) from {table}").format(
        row=row_text, table=sql.Identifier(schema, table))
    count, digest = conn.execute(query).fetchone()
    return int(count), digest


def raw_fingerprint(conn: psycopg.Connection, schema: str = "raw",
                    volatile: frozenset[str] = VOLATILE_COLUMNS) -> dict[str, tuple[int, str]]:
    """``{"raw.<table>": (row_count, md5)}`` for every table of the raw schema (or of
    ``schema``, leaving out the ``volatile`` columns: the tests compare ``marts`` so),
    each a :func:`table_fingerprint`. Tables of an absent raw schema: ``{}``.
    """
    return {f"{schema}.{table}": table_fingerprint(conn, schema, table, volatile, names)
            for table, names in sorted(table_columns(conn, schema).items())}
