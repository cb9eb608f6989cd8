"""INSERT ... ON CONFLICT DO UPDATE / DO NOTHING for both SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert ``rows``; where a row with the same ``keys`` exists, overwrite ``update`` columns."""
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}
    )
    conn.execute(stmt, list(rows))


def insert_missing(
    conn: Connection, table: Table, row: dict[str, Any], keys: Sequence[str]
) -> bool:
    """Insert ``row`` unless a row with the same ``keys`` exists; True if it was inserted.

    The race-free "create if missing": on PostgreSQL a concurrent transaction inserting the
    same keys makes this wait for it, then do nothing, instead of failing on the unique index.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).values(**row).on_conflict_do_nothing(index_elements=list(keys))
    # RETURNING yields a row only for an inserted row, on both backends; the row count of an
    # ON CONFLICT DO NOTHING is not reliable through PostgreSQL's driver (it reported skipped
    # rows as inserted), and callers make decisions on this answer (single-use tokens).
    result = conn.execute(stmt.returning(*(table.c[k] for k in keys)))
    return result.first() is not None
