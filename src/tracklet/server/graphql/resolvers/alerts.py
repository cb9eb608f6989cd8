"""Run alerts: NotifyScriptableRunAlert (``run.alert``) and ``Run.alerts``."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, ObjectType

from tracklet.domain.policy import Action, require
from tracklet.domain.records import Run
from tracklet.domain.sweeps.records import AlertDelivery, RunAlert
from tracklet.errors import InvalidInput
from tracklet.server.alert_delivery import destination_kind, destinations
from tracklet.server.graphql.context import Info, context_of
from tracklet.server.graphql.ids import encode_id
from tracklet.server.graphql.resolvers.runs import load_run
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import alerts as alert_repo

mutation = MutationType()
run_type = ObjectType("Run")
alert_type = ObjectType("RunAlert")
delivery_type = ObjectType("AlertDelivery")

SEVERITIES = ("INFO", "WARN", "ERROR")
_MAX_TITLE = 1024
_MAX_TEXT = 64 * 1024


def _seconds(raw: Any) -> float:
    """waitDuration as wandb-core sends it (milliseconds, a number or its decimal text) in
    seconds; W&B's default of one minute when it is missing."""
    if raw is None:
        return 60.0
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            raise InvalidInput(f"invalid waitDuration {raw!r}") from None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw < 1e15:
        raise InvalidInput(f"invalid waitDuration {raw!r}")
    return float(raw) / 1000.0


@mutation.field("notifyScriptableRunAlert")
def resolve_notify_alert(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    """Store a run's alert, unless one of that title came less than waitDuration ago."""
    data = input or {}
    entity, project, name = (data.get(k) for k in ("entity_name", "project_name", "run_name"))
    title, text = data.get("title"), data.get("text")
    if not all(isinstance(v, str) and v for v in (entity, project, name)):
        raise InvalidInput("notifyScriptableRunAlert needs entityName, projectName, runName")
    if not isinstance(title, str) or not title or not isinstance(text, str):
        raise InvalidInput("an alert needs a title and a text")
    if len(title) > _MAX_TITLE or len(text) > _MAX_TEXT:
        raise InvalidInput(f"alert title is limited to {_MAX_TITLE} characters and text to "
                           f"{_MAX_TEXT}")
    severity = data.get("severity") or "INFO"
    if severity not in SEVERITIES:
        raise InvalidInput("alert severity must be INFO, WARN or ERROR")
    ctx = context_of(info)
    assert isinstance(entity, str) and isinstance(project, str) and isinstance(name, str)
    run = load_run(ctx, entity, project, name)
    with ctx.storage.db.write() as conn:
        alert = alert_repo.add_alert(conn, run.id, title=title, text=text, severity=severity,
                                     wait_duration=_seconds(data.get("wait_duration")))
        if alert is not None:
            targets = destinations(ctx.settings)
            own = alert_repo.entity_webhook_of_project(conn, run.project_id)
            if own is not None and own not in targets:
                targets.append(own)
            for destination in targets:
                alert_repo.queue_delivery(conn, alert.id, destination, alert.created_at)
    return {"success": True}


@mutation.field("setEntityAlertWebhook")
def resolve_set_entity_webhook(_: Any, info: Info, entity_name: str,
                               url: str | None = None) -> bool:
    """Set (or with no url remove) the entity's own alert webhook; its admins only."""
    ctx = context_of(info)
    require(ctx.user, Action.ADMIN, entity_name)
    with ctx.storage.db.write() as conn:
        alert_repo.set_entity_webhook(conn, accounts.get_entity(conn, entity_name).id, url)
    return True


@run_type.field("alerts")
def resolve_run_alerts(run: Run, info: Info) -> list[RunAlert]:
    with context_of(info).storage.db.read() as conn:
        return alert_repo.list_alerts(conn, run.id)


@alert_type.field("deliveries")
def resolve_alert_deliveries(alert: RunAlert, info: Info) -> list[AlertDelivery]:
    with context_of(info).storage.db.read() as conn:
        return alert_repo.list_deliveries(conn, alert.id)


@delivery_type.field("destination")
def resolve_delivery_destination(delivery: AlertDelivery, *_: Any) -> str:
    """The kind of destination only: a webhook URL is a credential (Slack's are)."""
    return destination_kind(delivery.destination)


@alert_type.field("id")
def resolve_alert_id(alert: RunAlert, *_: Any) -> str:
    return encode_id("RunAlert", alert.id)


BINDABLES = [mutation, run_type, alert_type, delivery_type]
