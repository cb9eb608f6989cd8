"""A team, an organization and the server always keep an admin; team invites are e-mailed
when the server sends e-mail."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support.app import InProcessApp, in_process_app
from tests.support.smtp import smtp_server
from tracklet.cli.main import cli
from tracklet.config import Settings
from tracklet.domain.policy import Role
from tracklet.errors import Conflict, NotFound
from tracklet.server.graphql.ids import encode_id
from tracklet.storage import credentials, teams


def _as(app: InProcessApp, key: str, query: str) -> dict[str, Any]:
    response = app.client.post("/graphql", json={"query": query}, auth=("api", key))
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json()
    return body


def _roles(app: InProcessApp, team: str) -> dict[str, str]:
    return {m.user.username: m.role.value for m in teams.team_members(app.storage, team)}


def test_the_last_team_admin_stays(app: InProcessApp) -> None:
    storage = app.storage
    ada, ada_key = storage.create_user("ada")
    storage.create_user("ben")
    teams.create_team(storage, "ml", actor=ada)
    teams.set_team_member(storage, "ml", "ben", Role.MEMBER, actor=ada)
    last = "'ada' is the last admin of team 'ml': make another member an admin first"
    with pytest.raises(Conflict, match=last):
        teams.set_team_member(storage, "ml", "ada", Role.MEMBER, actor=ada)
    with pytest.raises(Conflict, match=last):  # leaving
        teams.remove_team_member(storage, "ml", "ada",
                                 actor=credentials.with_grants(storage, ada))
    with pytest.raises(Conflict, match=last):  # by a server admin
        teams.remove_team_member(storage, "ml", "ada")
    # W&B's Member.delete() and an invite that would demote her: a clear 4xx.
    gone = _as(app, ada_key, f"""mutation {{ deleteInvite(input: {{entityName: "ml",
        id: "{encode_id("User", ada.id)}"}}) {{ success }} }}""")
    assert gone["errors"][0]["message"] == last
    demoted = _as(app, ada_key, """mutation { createInvite(input: {entityName: "ml",
        username: "ada"}) { invite { name } } }""")
    assert demoted["errors"][0]["message"] == last
    assert _roles(app, "ml") == {"ada": "admin", "ben": "member"}
    # With a second admin, the first may step down and then leave.
    teams.set_team_member(storage, "ml", "ben", Role.ADMIN, actor=ada)
    teams.set_team_member(storage, "ml", "ada", Role.VIEWER, actor=ada)
    teams.remove_team_member(storage, "ml", "ada")
    assert _roles(app, "ml") == {"ben": "admin"}


def test_the_last_org_admin_stays(app: InProcessApp) -> None:
    storage = app.storage
    for name in ("ada", "ben"):
        storage.create_user(name)
    teams.create_org(storage, "acme")
    teams.set_org_member(storage, "acme", "ben", Role.MEMBER)  # no admin yet: allowed
    teams.set_org_member(storage, "acme", "ada", Role.ADMIN)
    last = "'ada' is the last admin of organization 'acme'"
    with pytest.raises(Conflict, match=last):
        teams.set_org_member(storage, "acme", "ada", Role.VIEWER)
    with pytest.raises(Conflict, match=last):
        teams.remove_org_member(storage, "acme", "ada")
    teams.set_org_member(storage, "acme", "ben", Role.ADMIN)
    teams.remove_org_member(storage, "acme", "ada")
    assert [m.user.username for m in teams.org_members(storage, "acme")] == ["ben"]


def test_the_cli_says_why(app_settings: Settings) -> None:
    with in_process_app(app_settings) as app:
        app.storage.create_user("ada")
        teams.create_team(app.storage, "ml", admin="ada")
        store = ["--data-dir", str(app_settings.data_dir), *(
            ["--db", app_settings.db] if app_settings.db else []),
            *(["--blobs", app_settings.blobs] if app_settings.blobs else [])]
        env = {"TRACKLET_S3_ENDPOINT_URL": app_settings.s3_endpoint_url} \
            if app_settings.s3_endpoint_url else {}
        result = CliRunner().invoke(cli, ["team", "remove", "ml", "ada", *store], env=env)
        assert result.exit_code != 0
        assert "'ada' is the last admin of team 'ml'" in result.output
        assert _roles(app, "ml") == {"ada": "admin"}


def test_the_last_server_admin_stays(app_settings: Settings) -> None:
    with in_process_app(app_settings) as app:  # its admin: "admin", from the admin key
        storage = app.storage
        _ada, ada_key = storage.create_user("ada")
        bo, _ = storage.create_user("bo")
        store = ["--data-dir", str(app_settings.data_dir), *(
            ["--db", app_settings.db] if app_settings.db else []),
            *(["--blobs", app_settings.blobs] if app_settings.blobs else [])]
        env = {"TRACKLET_S3_ENDPOINT_URL": app_settings.s3_endpoint_url} \
            if app_settings.s3_endpoint_url else {}

        def run(*args: str) -> Any:
            return CliRunner().invoke(cli, ["user", *args, *store], env=env)

        refused = run("admin", "admin", "--revoke")
        assert refused.exit_code != 0
        assert "'admin' is the last server admin: make another user an admin first" in \
            refused.output
        assert run("admin", "ada").output.strip() == "'ada' is a server admin"
        # Takes effect at once: ada's key now reads the audit log, an admin's page.
        assert app.client.get("/api/v1/audit", auth=("api", ada_key)).status_code == 200
        assert run("admin", "admin", "--revoke").exit_code == 0
        with pytest.raises(Conflict, match="'ada' is the last server admin"):
            teams.set_server_admin(storage, "ada", False)
        # Only server admins change it; a non-admin is told there is no such thing.
        with pytest.raises(NotFound):
            teams.set_server_admin(storage, "ada", False, actor=bo)
        assert [e.action for e in teams.audit_entries(storage)][:2] == [
            "user.admin.revoke", "user.admin"]


def test_invites_are_emailed(app_settings: Settings) -> None:
    with smtp_server() as (port, mails):
        settings = replace(app_settings, smtp_host="127.0.0.1", smtp_port=port,
                           smtp_starttls=False, smtp_from="tracklet@example.com")
        with in_process_app(settings) as app:
            ada, ada_key = app.storage.create_user("ada")
            app.storage.create_user("kim", email="kim@example.com")
            app.storage.create_user("lee")  # no address: added, nothing sent
            teams.create_team(app.storage, "vision", actor=ada)
            invited = _as(app, ada_key, """mutation { createInvite(input: {
                entityName: "vision", email: "kim@example.com", admin: true}) {
                invite { name toUser { name } } } }""")
            assert invited["data"]["createInvite"]["invite"] == {
                "name": "kim", "toUser": {"name": "kim"}}
            quiet = _as(app, ada_key, """mutation { createInvite(input: {
                entityName: "vision", username: "lee"}) { invite { name } } }""")
            assert quiet["data"]["createInvite"]["invite"] == {"name": "lee"}
            assert _roles(app, "vision") == {"ada": "admin", "kim": "admin", "lee": "member"}
    (mail,) = mails
    assert mail["To"] == "kim@example.com" and mail["From"] == "tracklet@example.com"
    assert mail["Subject"] == "You were added to vision on tracklet"
    text = mail.get_payload()
    assert "ada added you (kim) to the team 'vision' on tracklet as admin." in text
    assert "http://testserver/vision" in text and "wandb login --host http://testserver" in text


def test_a_dead_smtp_server_fails_the_invite_softly(
        app_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    # Port 9 on loopback: nothing listens; the member is added, the failure logged.
    settings = replace(app_settings, smtp_host="127.0.0.1", smtp_port=9, smtp_starttls=False)
    with in_process_app(settings) as app:
        ada, ada_key = app.storage.create_user("ada")
        app.storage.create_user("kim", email="kim@example.com")
        teams.create_team(app.storage, "vision", actor=ada)
        invited = _as(app, ada_key, """mutation { createInvite(input: {entityName: "vision",
            username: "kim"}) { invite { name } } }""")
        assert invited["data"]["createInvite"]["invite"] == {"name": "kim"}
        assert _roles(app, "vision") == {"ada": "admin", "kim": "member"}
    assert any("invite e-mail for kim to team vision not sent" in r.getMessage()
               for r in caplog.records)
