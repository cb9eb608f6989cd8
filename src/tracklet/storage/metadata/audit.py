"""The audit log: one row per administrative action (users, keys, teams, roles, visibility,
deletes), written in the transaction of the action itself."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, select

from tracklet.storage.metadata.tables import audit_log


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to what, and when."""

    id: int
    created_at: float
    actor: str | None
    action: str
    target: str
    detail: str | None


def record(conn: Connection, actor: str | None, action: str, target: str,
           detail: str | None = None) -> None:
    """Append an entry (``actor`` None: the command line, acting as the server's owner)."""
    conn.execute(audit_log.insert().values(created_at=time.time(), actor=actor,
                                           action=action, target=target[:256],
                                           detail=detail))


def entries(conn: Connection, limit: int = 100, before_id: int | None = None
            ) -> list[AuditEntry]:
    """The newest entries first, paged by id."""
    q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(audit_log.c.id < before_id)
    return [AuditEntry(**r._mapping) for r in conn.execute(q)]
