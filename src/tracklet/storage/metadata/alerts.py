"""Run alerts (``run.alert``), rate-limited per run and title by their wait_duration."""

from __future__ import annotations

import time

from sqlalchemy import Connection, insert, select

from tracklet.domain.sweeps.records import RunAlert
from tracklet.storage.metadata.tables import run_alerts

_COLS = (run_alerts.c.id, run_alerts.c.run_id, run_alerts.c.title, run_alerts.c.text,
         run_alerts.c.severity, run_alerts.c.wait_duration, run_alerts.c.created_at)


def add_alert(conn: Connection, run_id: int, *, title: str, text: str, severity: str,
              wait_duration: float, now: float | None = None) -> RunAlert | None:
    """Store an alert, unless the run raised one with this title less than ``wait_duration``
    seconds ago (W&B's rule: wait that long before another alert of this title); returns the
    stored alert, or None for one held back."""
    now = time.time() if now is None else now
    last = conn.execute(select(run_alerts.c.created_at)
                        .where(run_alerts.c.run_id == run_id, run_alerts.c.title == title)
                        .order_by(run_alerts.c.created_at.desc()).limit(1)).first()
    if last is not None and now < last.created_at + wait_duration:
        return None
    alert_id = conn.execute(insert(run_alerts).values(
        run_id=run_id, title=title, text=text, severity=severity,
        wait_duration=wait_duration, created_at=now,
    ).returning(run_alerts.c.id)).scalar_one()
    return RunAlert(id=alert_id, run_id=run_id, title=title, text=text, severity=severity,
                    wait_duration=wait_duration, created_at=now)


def list_alerts(conn: Connection, run_id: int) -> list[RunAlert]:
    """The alerts a run raised, oldest first."""
    rows = conn.execute(select(*_COLS).where(run_alerts.c.run_id == run_id)
                        .order_by(run_alerts.c.created_at, run_alerts.c.id))
    return [RunAlert(**r._mapping) for r in rows]
