"""Browser sign-in sessions: a row per signed-in browser, by the keyed hash of its cookie."""

from __future__ import annotations

from sqlalchemy import Connection, select

from tracklet.domain.records import User
from tracklet.storage.metadata.accounts import USER_COLUMNS
from tracklet.storage.metadata.tables import entities, sessions, users


def create_session(conn: Connection, user_id: int, token_hash: str, now: float,
                   expires_at: float) -> None:
    """Record a new session of ``user_id``."""
    conn.execute(sessions.insert().values(token_hash=token_hash, user_id=user_id,
                                          created_at=now, expires_at=expires_at))


def session_user(conn: Connection, token_hash: str, now: float) -> tuple[User, float] | None:
    """The user of an unexpired session and when it expires, or None."""
    row = conn.execute(
        select(*USER_COLUMNS, sessions.c.expires_at)
        .join(entities, entities.c.id == users.c.entity_id)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now)
    ).first()
    if row is None:
        return None
    mapping = dict(row._mapping)
    expires_at = float(mapping.pop("expires_at"))
    return User(**mapping), expires_at


def delete_session(conn: Connection, token_hash: str) -> bool:
    """End one session; True if it existed."""
    return bool(conn.execute(
        sessions.delete().where(sessions.c.token_hash == token_hash)).rowcount)


def delete_user_sessions(conn: Connection, user_id: int) -> int:
    """End every session of a user (a password change); how many there were."""
    return int(conn.execute(sessions.delete().where(sessions.c.user_id == user_id)).rowcount)


def purge_expired(conn: Connection, now: float) -> int:
    """Delete sessions past their expiry (they are refused anyway); how many."""
    return int(conn.execute(sessions.delete().where(sessions.c.expires_at <= now)).rowcount)
