"""The raw schema as comparable data: every row of every raw table, and a per-table
(count, md5) fingerprint of it.

Columns that record *when* something was loaded (``loaded_at``, ``synced_at``,
``fetched_at`` and any ``timestamptz`` column) are left out: two ingests of the same
world at different moments must compare equal. Everything else, including
``raw.loaded_units`` (revision, status, sha256, counts) and ``raw.rejected_rows``
(reason, detail, raw record), is compared as text, so ``1234.500`` and ``1234.5``
differ as they should.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import psycopg

#: Bookkeeping time columns, never part of the comparison.
TIME_COLUMNS = frozenset({"loaded_at", "synced_at", "fetched_at"})
TIME_TYPES = frozenset({"timestamp with time zone", "timestamp without time zone"})

Row = tuple[str | None, ...]


def raw_columns(conn: psycopg.Connection, schema: str = "raw") -> dict[str, list[str]]:
    """``schema.table`` -> compared columns (ordinal order) of every base table."""
    cur = conn.execute(
        """
        select c.table_name, c.column_name, c.data_type
        from information_schema.columns c
        join information_schema.tables t
          on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema = %s and t.table_type = 'BASE TABLE'
        order by c.table_name, c.ordinal_position
        """, (schema,))
    tables: dict[str, list[str]] = {}
    for table, column, data_type in cur.fetchall():
        columns = tables.setdefault(f"{schema}.{table}", [])
        if column not in TIME_COLUMNS and data_type not in TIME_TYPES:
            columns.append(column)
    return tables


def raw_rows(conn: psycopg.Connection, *, schema: str = "raw") -> dict[str, list[Row]]:
    """Every row of every raw table as a tuple of column texts (the columns of
    :func:`raw_columns`, in that order), sorted."""
    out: dict[str, list[Row]] = {}
    for table, columns in raw_columns(conn, schema).items():
        select = ", ".join(f'"{column}"::text' for column in columns) or "1::text"
        rows = conn.execute(f"select {select} from {table}").fetchall()
        out[table] = sorted((tuple(row) for row in rows), key=_sort_key)
    return out


def _sort_key(row: Row) -> tuple:
    return tuple((value is None, value or "") for value in row)


def table_fingerprint(rows: Iterable[Row]) -> tuple[int, str]:
    digest = hashlib.md5()
    count = 0
    for row in sorted(rows, key=_sort_key):
        digest.update(repr(row).encode("utf-8") + b"\n")
        count += 1
    return count, digest.hexdigest()


def fingerprint(rows: dict[str, list[Row]]) -> dict[str, tuple[int, str]]:
    """Per table: (row count, md5 over the sorted rows)."""
    return {table: table_fingerprint(table_rows) for table, table_rows in sorted(rows.items())}


def snapshot(conninfo: str) -> dict[str, list[Row]]:
    with psycopg.connect(conninfo) as conn:
        return raw_rows(conn)
