"""Delivering run alerts to the configured destinations: a webhook
(``TRACKLET_ALERT_WEBHOOK_URL``, Slack-compatible JSON) and e-mail (``TRACKLET_ALERT_EMAIL_TO``
over ``TRACKLET_SMTP_*``).

Alerts are queued in the delivery log when they are stored (:func:`destinations`); a
background task of every server process claims the due ones, sends them, and records the
outcome: delivered,
retried after ``alert_delivery_interval_s * 2**attempts``, or failed after
:data:`MAX_ATTEMPTS`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.error
import urllib.request
from typing import Any

import orjson
from anyio import to_thread

from tracklet.config import Settings
from tracklet.errors import TrackletError
from tracklet.server import mail
from tracklet.storage import Storage
from tracklet.storage.metadata import alerts as alert_repo
from tracklet.storage.metadata.alerts import DueDelivery

log = logging.getLogger("tracklet.alerts")

MAX_ATTEMPTS = 5
MAILTO = "mailto:"


def destinations(settings: Settings) -> list[str]:
    """Where every alert goes: the webhook URL and/or ``mailto:`` the e-mail recipients."""
    out = [settings.alert_webhook_url] if settings.alert_webhook_url else []
    if settings.alert_email_to and settings.smtp_host:
        out.append(MAILTO + settings.alert_email_to)
    return out


def destination_kind(destination: str) -> str:
    """What the delivery log shows of a destination: its kind, never a URL or address."""
    return "email" if destination.startswith(MAILTO) else "webhook"
_LEASE_S = 120.0
_TIMEOUT_S = 10.0


def message(item: DueDelivery, public_url: str) -> dict[str, Any]:
    """The JSON body: Slack's ``text`` plus the alert's fields for other receivers."""
    a = item.alert
    path = f"{item.entity}/{item.project}/{item.run}"
    body: dict[str, Any] = {
        "text": f"[{a.severity}] {a.title}: {a.text} ({path})",
        "title": a.title, "body": a.text, "severity": a.severity,
        "entity": item.entity, "project": item.project, "run": item.run,
        "created_at": a.created_at,
    }
    if public_url:
        body["url"] = f"{public_url.rstrip('/')}/{item.entity}/{item.project}/runs/{item.run}"
    return body


def _post(url: str, body: dict[str, Any]) -> str | None:
    """POST the body; None when the receiver answered 2xx, else what went wrong."""
    request = urllib.request.Request(url, data=orjson.dumps(body), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))[:500]
    return None if 200 <= status < 300 else f"HTTP {status}"


def _mail(settings: Settings, recipients: str, body: dict[str, Any]) -> str | None:
    """Send the alert e-mail; None when the server accepted it, else what went wrong."""
    lines = [body["body"], "", f"Run: {body['entity']}/{body['project']}/{body['run']}"]
    if "url" in body:
        lines.append(body["url"])
    return mail.send(settings, recipients, f"[tracklet {body['severity']}] {body['title']}",
                     "\n".join(lines))


def _send(settings: Settings, destination: str, body: dict[str, Any]) -> str | None:
    if destination.startswith(MAILTO):
        return _mail(settings, destination[len(MAILTO):], body)
    return _post(destination, body)


def deliver_due(storage: Storage, settings: Settings, now: float | None = None) -> int:
    """Attempt every due delivery once; returns how many were attempted."""
    now = time.time() if now is None else now
    with storage.db.read() as conn:
        # Most polls find nothing: no write transaction (SQLite's one writer) for those.
        if not alert_repo.any_due(conn, now):
            return 0
    with storage.db.write() as conn:
        due = alert_repo.claim_due(conn, now, now + _LEASE_S)
    for item in due:
        error = _send(settings, item.destination, message(item, settings.public_url))
        attempts = item.attempts + 1
        retry_at = None
        if error is not None and attempts < MAX_ATTEMPTS:
            retry_at = time.time() + settings.alert_delivery_interval_s * 2 ** attempts
        if error is not None:
            log.warning("alert %d by %s failed (attempt %d): %s", item.alert.id,
                        destination_kind(item.destination), attempts, error)
        with storage.db.write() as conn:
            alert_repo.record_attempt(conn, item.id, attempts=attempts, error=error,
                                      now=time.time(), retry_at=retry_at)
    return len(due)


async def alert_deliverer(storage: Storage, settings: Settings) -> None:
    """The background task: deliver due alerts every ``alert_delivery_interval_s``."""
    while True:
        await asyncio.sleep(settings.alert_delivery_interval_s)
        try:
            await to_thread.run_sync(deliver_due, storage, settings)
        except TrackletError as exc:
            log.warning("alert delivery skipped: %s", exc.message)
