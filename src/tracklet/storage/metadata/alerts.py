"""Run alerts (``run.alert``), rate-limited per run and title by their wait_duration."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, insert, select, update

from tracklet.domain.sweeps.records import AlertDelivery, RunAlert
from tracklet.errors import InvalidInput
from tracklet.storage.metadata.tables import (
    alert_deliveries,
    entities,
    entity_alert_settings,
    projects,
    run_alerts,
    runs,
)

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


# -- delivery log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DueDelivery:
    """A delivery claimed for an attempt, with what its message says."""

    id: int
    destination: str
    attempts: int
    alert: RunAlert
    entity: str
    project: str
    run: str


_DELIVERY_COLS = (alert_deliveries.c.id, alert_deliveries.c.alert_id,
                  alert_deliveries.c.destination, alert_deliveries.c.state,
                  alert_deliveries.c.attempts, alert_deliveries.c.next_attempt_at,
                  alert_deliveries.c.last_error, alert_deliveries.c.delivered_at)


def queue_delivery(conn: Connection, alert_id: int, destination: str, now: float) -> None:
    """Log a delivery of the alert to ``destination``, due at once."""
    conn.execute(insert(alert_deliveries).values(
        alert_id=alert_id, destination=destination, state="pending", attempts=0,
        next_attempt_at=now))


def any_due(conn: Connection, now: float) -> bool:
    """Whether a pending delivery is due by ``now``."""
    return conn.execute(select(alert_deliveries.c.id).where(
        alert_deliveries.c.state == "pending",
        alert_deliveries.c.next_attempt_at <= now).limit(1)).first() is not None


def claim_due(conn: Connection, now: float, lease_until: float,
              limit: int = 20) -> list[DueDelivery]:
    """Pending deliveries due by ``now``, claimed until ``lease_until`` (a claim is a
    compare-and-set of next_attempt_at, so two server processes never send one twice)."""
    rows = conn.execute(
        select(*_DELIVERY_COLS, *_COLS[1:], entities.c.name.label("entity"),
               projects.c.name.label("project"), runs.c.name.label("run"))
        .join(run_alerts, run_alerts.c.id == alert_deliveries.c.alert_id)
        .join(runs, runs.c.id == run_alerts.c.run_id)
        .join(projects, projects.c.id == runs.c.project_id)
        .join(entities, entities.c.id == projects.c.entity_id)
        .where(alert_deliveries.c.state == "pending",
               alert_deliveries.c.next_attempt_at <= now)
        .order_by(alert_deliveries.c.next_attempt_at).limit(limit)).all()
    claimed: list[DueDelivery] = []
    for r in rows:
        won = conn.execute(update(alert_deliveries).where(
            alert_deliveries.c.id == r.id,
            alert_deliveries.c.next_attempt_at == r.next_attempt_at,
        ).values(next_attempt_at=lease_until)).rowcount
        if won:
            alert = RunAlert(id=r.alert_id, run_id=r.run_id, title=r.title, text=r.text,
                             severity=r.severity, wait_duration=r.wait_duration,
                             created_at=r.created_at)
            claimed.append(DueDelivery(r.id, r.destination, r.attempts, alert, r.entity,
                                       r.project, r.run))
    return claimed


def record_attempt(conn: Connection, delivery_id: int, *, attempts: int, error: str | None,
                   now: float, retry_at: float | None) -> None:
    """The outcome of an attempt: delivered, pending again at ``retry_at``, or failed."""
    if error is None:
        values: dict[str, object] = {"state": "delivered", "delivered_at": now,
                                     "last_error": None}
    elif retry_at is None:
        values = {"state": "failed", "last_error": error}
    else:
        values = {"state": "pending", "next_attempt_at": retry_at, "last_error": error}
    conn.execute(update(alert_deliveries).where(alert_deliveries.c.id == delivery_id)
                 .values(attempts=attempts, **values))


def list_deliveries(conn: Connection, alert_id: int) -> list[AlertDelivery]:
    """The delivery log of one alert."""
    rows = conn.execute(select(*_DELIVERY_COLS).where(alert_deliveries.c.alert_id == alert_id)
                        .order_by(alert_deliveries.c.id))
    return [AlertDelivery(**r._mapping) for r in rows]


# -- per-entity destinations ------------------------------------------------------------------

_MAX_URL = 2048


def set_entity_webhook(conn: Connection, entity_id: int, url: str | None,
                       now: float | None = None) -> None:
    """Send the entity's runs' alerts to ``url`` too (an http(s) URL); None removes it."""
    conn.execute(delete(entity_alert_settings)
                 .where(entity_alert_settings.c.entity_id == entity_id))
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > _MAX_URL:
        raise InvalidInput(f"an alert webhook must be an http(s) URL of at most {_MAX_URL} "
                           f"characters, not {url[:100]!r}")
    conn.execute(insert(entity_alert_settings).values(
        entity_id=entity_id, webhook_url=url, updated_at=time.time() if now is None else now))


def entity_webhook(conn: Connection, entity_id: int) -> str | None:
    """The entity's own alert webhook, if it set one."""
    url: str | None = conn.execute(select(entity_alert_settings.c.webhook_url).where(
        entity_alert_settings.c.entity_id == entity_id)).scalar()
    return url


def entity_webhook_of_project(conn: Connection, project_id: int) -> str | None:
    """The alert webhook of the entity owning the project, if it set one."""
    url: str | None = conn.execute(
        select(entity_alert_settings.c.webhook_url)
        .join(projects, projects.c.entity_id == entity_alert_settings.c.entity_id)
        .where(projects.c.id == project_id)).scalar()
    return url
