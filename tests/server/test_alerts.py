"""Run alerts (NotifyScriptableRunAlert, as wandb-core sends ``run.alert``): stored, rate
limited per run and title by waitDuration (milliseconds on the wire), read back through
``Run.alerts``; bad input is a clear 4xx."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.app import InProcessApp, in_process_app
from tests.support.smtp import smtp_server
from tracklet.config import Settings
from tracklet.server.alert_delivery import MAX_ATTEMPTS, deliver_due

NOTIFY = """mutation NotifyScriptableRunAlert($entityName: String!, $projectName: String!,
    $runName: String!, $title: String!, $text: String!, $severity: AlertSeverity = INFO,
    $waitDuration: Duration) {
  notifyScriptableRunAlert(input: {entityName: $entityName, projectName: $projectName,
      runName: $runName, title: $title, text: $text, severity: $severity,
      waitDuration: $waitDuration}) { success } }"""

BUCKET = """mutation B($name: String!) { upsertBucket(input: {name: $name, modelName: "al",
  entityName: "admin"}) { bucket { id } } }"""

ALERTS = """query A($name: String!) { project(name: "al", entityName: "admin") {
  run(name: $name) { alerts { id title text severity waitDuration createdAt } } } }"""


def _notify(app: InProcessApp, run: str, title: str, wait_ms: int | None = 60_000,
            **extra: Any) -> Any:
    return app.client.post("/graphql", json={"query": NOTIFY, "variables": {
        "entityName": "admin", "projectName": "al", "runName": run, "title": title,
        "text": f"{title}!", "waitDuration": wait_ms, **extra}})


def _alerts(app: InProcessApp, run: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = app.graphql(ALERTS, {"name": run})["data"]["project"][
        "run"]["alerts"]
    return alerts


def test_alerts_are_stored_and_rate_limited_per_title(app: InProcessApp) -> None:
    for name in ("r1", "r2"):
        app.graphql(BUCKET, {"name": name})
    assert _notify(app, "r1", "hot", severity="ERROR").json() == {
        "data": {"notifyScriptableRunAlert": {"success": True}}}
    assert _notify(app, "r1", "hot").status_code == 200  # within a minute: dropped
    assert _notify(app, "r1", "cold", wait_ms=0).status_code == 200
    assert _notify(app, "r1", "cold", wait_ms=0).status_code == 200  # no wait: kept
    assert _notify(app, "r2", "hot").status_code == 200  # another run: its own limit
    r1 = _alerts(app, "r1")
    assert [(a["title"], a["severity"], a["waitDuration"]) for a in r1] == [
        ("hot", "ERROR", 60.0), ("cold", "INFO", 0.0), ("cold", "INFO", 0.0)]
    assert r1[0]["text"] == "hot!" and r1[0]["createdAt"]
    assert len({a["id"] for a in r1}) == 3
    assert [a["title"] for a in _alerts(app, "r2")] == ["hot"]


def test_bad_alerts_are_client_errors(app: InProcessApp) -> None:
    app.graphql(BUCKET, {"name": "r1"})
    assert _notify(app, "nope", "x").status_code == 404
    assert _notify(app, "r1", "x", severity="LOUD").status_code == 400
    assert _notify(app, "r1", "x", wait_ms=-5).status_code == 400
    empty = _notify(app, "r1", "")
    assert empty.status_code == 400
    assert "an alert needs a title" in empty.json()["errors"][0]["message"]
    _user, key = app.storage.create_user("mallory")
    foreign = app.client.post("/graphql", auth=("api", key), json={
        "query": NOTIFY, "variables": {"entityName": "admin", "projectName": "al",
                                       "runName": "r1", "title": "x", "text": "y"}})
    assert foreign.status_code == 404  # refused as a missing run would be
    assert _alerts(app, "r1") == []


class _Receiver(BaseHTTPRequestHandler):
    """A webhook on loopback that fails its first ``failures`` requests with a 500."""

    failures = 0
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        if cls.failures > 0:
            cls.failures -= 1
            self.send_response(500)
        else:
            cls.received.append(body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"failures": 2, "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()
        server.server_close()


DELIVERIES = """query A { project(name: "al", entityName: "admin") { run(name: "r1") {
  alerts { title deliveries { destination state attempts lastError deliveredAt } } } } }"""


def test_alerts_reach_the_webhook_after_retries(
        app_settings: Settings, receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    settings = replace(app_settings, alert_webhook_url=url, alert_delivery_interval_s=0.1,
                       public_url="http://tracklet.example")
    with in_process_app(settings) as app:
        app.graphql(BUCKET, {"name": "r1"})
        assert _notify(app, "r1", "diverged", severity="ERROR").status_code == 200
        deadline = time.monotonic() + 30
        while True:
            (alert,) = app.graphql(DELIVERIES)["data"]["project"]["run"]["alerts"]
            (delivery,) = alert["deliveries"]
            if delivery["state"] != "pending":
                break
            assert time.monotonic() < deadline, "the alert was never delivered"
            time.sleep(0.1)
        (body,) = handler.received
        assert body["text"] == "[ERROR] diverged: diverged! (admin/al/r1)"
        assert body["url"] == "http://tracklet.example/admin/al/runs/r1"
        assert delivery["destination"] == "webhook"
        assert delivery["state"] == "delivered" and delivery["attempts"] == 3
        assert delivery["deliveredAt"]


def test_no_destination_means_stored_only(app: InProcessApp) -> None:
    app.graphql(BUCKET, {"name": "r1"})
    assert _notify(app, "r1", "quiet").status_code == 200
    (alert,) = app.graphql(DELIVERIES)["data"]["project"]["run"]["alerts"]
    assert alert == {"title": "quiet", "deliveries": []}


def test_a_delivery_gives_up_after_the_last_attempt(
        app_settings: Settings, receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    handler.failures = 100
    # No background task (interval of an hour): the test drives the attempts itself.
    settings = replace(app_settings, alert_webhook_url=url, alert_delivery_interval_s=3600)
    with in_process_app(settings) as app:
        app.graphql(BUCKET, {"name": "r1"})
        assert _notify(app, "r1", "lost").status_code == 200
        later = time.time() + 10 * 3600 * 2 ** MAX_ATTEMPTS
        attempted = [deliver_due(app.storage, settings, now=later) for _ in range(7)]
        assert attempted == [1] * MAX_ATTEMPTS + [0, 0]
        (alert,) = app.graphql(DELIVERIES)["data"]["project"]["run"]["alerts"]
        assert alert["deliveries"] == [{"destination": "webhook", "state": "failed",
                                        "attempts": MAX_ATTEMPTS, "lastError": "HTTP 500",
                                        "deliveredAt": None}]
        assert handler.received == []


@pytest.fixture
def smtp_receiver() -> Iterator[tuple[int, list[Any]]]:
    """An SMTP server on loopback (aiosmtpd) that keeps the messages it accepts."""
    with smtp_server() as running:
        yield running


def test_alerts_are_emailed(app_settings: Settings, smtp_receiver: tuple[int, list[Any]],
                            receiver: tuple[str, type[_Receiver]]) -> None:
    port, mails = smtp_receiver
    url, hook = receiver
    hook.failures = 0
    settings = replace(app_settings, alert_email_to="ops@example.com, ml@example.com",
                       smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                       alert_webhook_url=url, alert_delivery_interval_s=0.1)
    with in_process_app(settings) as app:
        app.graphql(BUCKET, {"name": "r1"})
        assert _notify(app, "r1", "nan loss", severity="WARN").status_code == 200
        deadline = time.monotonic() + 30
        while True:
            (alert,) = app.graphql(DELIVERIES)["data"]["project"]["run"]["alerts"]
            states = {d["destination"]: d["state"] for d in alert["deliveries"]}
            if "pending" not in states.values():
                break
            assert time.monotonic() < deadline, "the alert was never delivered"
            time.sleep(0.1)
        assert states == {"webhook": "delivered", "email": "delivered"}
        (mail,) = mails
        assert mail["Subject"] == "[tracklet WARN] nan loss"
        assert mail["To"] == "ops@example.com, ml@example.com"
        assert "Run: admin/al/r1" in mail.get_payload()
        assert len(hook.received) == 1


def test_an_entity_webhook_gets_its_runs_alerts(
        app_settings: Settings, receiver: tuple[str, type[_Receiver]]) -> None:
    from tracklet.storage.metadata import accounts
    from tracklet.storage.metadata import alerts as alert_repo

    url, handler = receiver
    handler.failures = 0
    settings = replace(app_settings, alert_delivery_interval_s=0.1)
    with in_process_app(settings) as app:
        app.graphql(BUCKET, {"name": "r1"})
        with app.storage.db.write() as conn:
            admin = accounts.get_entity(conn, "admin").id
            other = accounts.ensure_entity(conn, "elsewhere", is_team=True).id
            alert_repo.set_entity_webhook(conn, other, url + "/other")
            alert_repo.set_entity_webhook(conn, admin, url)
            assert alert_repo.entity_webhook(conn, admin) == url
        assert _notify(app, "r1", "first").status_code == 200
        deadline = time.monotonic() + 30
        while True:
            (alert,) = app.graphql(DELIVERIES)["data"]["project"]["run"]["alerts"]
            (delivery,) = alert["deliveries"]  # only admin's webhook, not the other's
            if delivery["state"] != "pending":
                break
            assert time.monotonic() < deadline, "the alert was never delivered"
            time.sleep(0.1)
        assert delivery["state"] == "delivered" and delivery["destination"] == "webhook"
        (body,) = handler.received
        assert body["text"] == "[INFO] first: first! (admin/al/r1)"
        # Removed: the next alert is stored only.
        with app.storage.db.write() as conn:
            alert_repo.set_entity_webhook(conn, admin, None)
        assert _notify(app, "r1", "second").status_code == 200
        alerts = app.graphql(DELIVERIES)["data"]["project"]["run"]["alerts"]
        assert [a["title"] for a in alerts] == ["first", "second"]
        assert alerts[1]["deliveries"] == []


SET_HOOK = """mutation H($e: String!, $u: String) {
  setEntityAlertWebhook(entityName: $e, url: $u) }"""


def test_entity_admins_set_the_webhook_through_graphql(app: InProcessApp) -> None:
    from tracklet.storage import teams
    from tracklet.storage.metadata import accounts
    from tracklet.storage.metadata import alerts as alert_repo

    keys = {n: app.storage.create_user(n)[1] for n in ("ada", "ben")}
    teams.create_team(app.storage, "ml", admin="ada")
    teams.set_team_member(app.storage, "ml", "ben", teams.parse_role("member"))

    def as_user(who: str, url: str | None, entity: str = "ml") -> Any:
        return app.client.post("/graphql", auth=("api", keys[who]), json={
            "query": SET_HOOK, "variables": {"e": entity, "u": url}})

    def stored() -> str | None:
        with app.storage.db.read() as conn:
            return alert_repo.entity_webhook(conn, accounts.get_entity(conn, "ml").id)

    hook = "https://hooks.example/ml"
    assert as_user("ada", hook).json() == {"data": {"setEntityAlertWebhook": True}}
    assert stored() == hook
    # A member is not an admin; another user's entity is not theirs.
    refused = as_user("ben", "https://evil.example/").json()
    assert refused["errors"] and stored() == hook
    assert as_user("ada", hook, entity="ben").json()["errors"]
    bad = as_user("ada", "javascript:alert(1)")
    assert bad.status_code < 500 and "must be an http(s) URL" in bad.text
    assert stored() == hook
    assert as_user("ada", None).json() == {"data": {"setEntityAlertWebhook": True}}
    assert stored() is None
