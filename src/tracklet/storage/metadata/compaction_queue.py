"""The durable queue of runs whose live history should be compacted to Parquet.

A run is queued in the same transaction that makes it finished, failed or crashed, so the
request survives a restart; workers in any server process claim entries with a lease. A
running run is queued too when its live tier grows long enough for a checkpoint export.

An entry's ``requested_at`` doubles as the run's history token: ingest renews it in the
transaction that rewrites already stored history lines, so a compaction that read the
history under one token knows the rows it exported are still the stored ones while the
token is unchanged (see :func:`token`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Connection, or_, select, update

from tracklet.domain.runs import RunState
from tracklet.storage.metadata.tables import history_compaction, runs
from tracklet.storage.metadata.upsert import insert_missing, upsert_rows

# A claim older than this is presumed dead (its process stopped) and may be taken over.
LEASE_S = 600.0


def request(conn: Connection, run_ids: Iterable[int]) -> None:
    """Queue ``run_ids`` for compaction (again, if they were queued or claimed before)."""
    now = time.time()
    rows = [{"run_id": int(r), "requested_at": now, "claimed_at": None, "attempts": 0}
            for r in dict.fromkeys(run_ids)]
    upsert_rows(conn, history_compaction, rows, keys=("run_id",),
                update=("requested_at", "claimed_at", "attempts"))


def request_once(conn: Connection, run_id: int) -> None:
    """Queue ``run_id`` unless it is queued or claimed already: keeps the token of a
    compaction under way (a checkpoint request must not make it start over)."""
    insert_missing(conn, history_compaction,
                   {"run_id": run_id, "requested_at": time.time(), "claimed_at": None,
                    "attempts": 0}, keys=("run_id",))


def token(conn: Connection, run_id: int, *, lock: bool = False) -> float | None:
    """The run's entry's ``requested_at`` (None when it is not queued). With ``lock``, the
    entry stays locked to the end of the transaction on PostgreSQL, so a rewrite (which
    renews the token first) waits for it."""
    query = select(history_compaction.c.requested_at).where(
        history_compaction.c.run_id == run_id)
    if lock:
        query = query.with_for_update()
    value = conn.execute(query).scalar_one_or_none()
    return None if value is None else float(value)


#: Run states whose history is complete (a running run's entry asks for a checkpoint).
ENDED_STATES = frozenset({RunState.FINISHED.value, RunState.FAILED.value,
                          RunState.CRASHED.value})


def _claimable(now: float, max_attempts: int, ended_only: bool) -> list[ColumnElement[bool]]:
    conditions = [or_(history_compaction.c.claimed_at.is_(None),
                      history_compaction.c.claimed_at < now - LEASE_S),
                  history_compaction.c.attempts < max_attempts]
    if ended_only:
        conditions.append(history_compaction.c.run_id.in_(
            select(runs.c.id).where(runs.c.state.in_(sorted(ENDED_STATES)))))
    return conditions


def claim(conn: Connection, limit: int = 10, max_attempts: int = 5, *,
          ended_only: bool = False) -> list[tuple[int, float]]:
    """Claim up to ``limit`` queued runs (only ended ones with ``ended_only``); returns
    (run_id, requested_at) of each claim."""
    now = time.time()
    claimable = _claimable(now, max_attempts, ended_only)
    rows = conn.execute(
        select(history_compaction.c.run_id, history_compaction.c.requested_at)
        .where(*claimable)
        .order_by(history_compaction.c.requested_at)
        .limit(limit)
    ).all()
    claimed = []
    for run_id, requested_at in rows:
        # Re-checked in the UPDATE so two processes never both claim an entry.
        result = conn.execute(
            update(history_compaction)
            .where(history_compaction.c.run_id == run_id,
                   history_compaction.c.requested_at == requested_at, *claimable)
            .values(claimed_at=now, attempts=history_compaction.c.attempts + 1)
        )
        if result.rowcount:
            claimed.append((int(run_id), float(requested_at)))
    return claimed


def done(conn: Connection, run_id: int, requested_at: float) -> None:
    """Remove the entry, unless the run was queued again after it was claimed."""
    conn.execute(
        history_compaction.delete().where(history_compaction.c.run_id == run_id,
                                          history_compaction.c.requested_at == requested_at)
    )


def drop(conn: Connection, run_id: int) -> None:
    """Remove the run's entry whatever its state."""
    conn.execute(history_compaction.delete().where(history_compaction.c.run_id == run_id))


def release(conn: Connection, run_id: int, *, attempted: bool = True) -> None:
    """Give a claim back so another attempt can be made later; one not ``attempted``
    (put off, not tried) does not count against the entry's attempts."""
    values: dict[str, object] = {"claimed_at": None}
    if not attempted:
        values["attempts"] = history_compaction.c.attempts - 1
    conn.execute(update(history_compaction).where(history_compaction.c.run_id == run_id)
                 .values(**values))


def has_claimable(conn: Connection, max_attempts: int = 5, *,
                  ended_only: bool = False) -> bool:
    """Whether any entry could be claimed now (a cheap read before taking a write lock)."""
    row = conn.execute(
        select(history_compaction.c.run_id)
        .where(*_claimable(time.time(), max_attempts, ended_only))
        .limit(1)
    ).first()
    return row is not None


def pending(conn: Connection) -> list[int]:
    """Run ids still queued (for tests and diagnostics)."""
    return [int(r) for r in conn.execute(select(history_compaction.c.run_id)).scalars()]
