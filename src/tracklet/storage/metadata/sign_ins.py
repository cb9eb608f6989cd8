"""Failed sign-ins per (username, client address), for the sign-in limiter."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, select

from tracklet.storage.metadata.tables import sign_in_failures as t

#: Longest stored username or address; longer ones are cut (they still count as one key).
_NAME, _ADDRESS = 256, 64


def _key(username: str, address: str) -> tuple[str, str]:
    return username[:_NAME], address[:_ADDRESS]


def failures_since(conn: Connection, username: str, address: str,
                   since: float) -> tuple[int, float | None]:
    """How many failures this key has after ``since``, and the oldest of them."""
    name, addr = _key(username, address)
    count, oldest = conn.execute(
        select(func.count(), func.min(t.c.at)).where(
            t.c.username == name, t.c.address == addr, t.c.at > since)).one()
    return int(count), None if oldest is None else float(oldest)


def record_failure(conn: Connection, username: str, address: str, at: float,
                   forget_before: float) -> None:
    """Store a failure at ``at`` and drop every failure (of any key) before
    ``forget_before``, so the table holds one window's worth."""
    name, addr = _key(username, address)
    conn.execute(delete(t).where(t.c.at < forget_before))
    conn.execute(insert(t).values(username=name, address=addr, at=at))


def clear(conn: Connection, username: str, address: str) -> None:
    """Forget this key's failures (after a successful sign-in)."""
    name, addr = _key(username, address)
    conn.execute(delete(t).where(t.c.username == name, t.c.address == addr))
