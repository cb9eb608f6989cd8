"""Teams through the real SDK against a live server: ``api.create_team``, ``Team.invite``,
``Member.delete``, ``api.user(s)``, ``api.create_user``, ``api.create_project``; a viewer
reads a teammate's run but cannot write to it; ``wandb.init`` with an entity that does not
exist fails with a message the user sees, while the user's own entity and their teams work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LiveServer, SdkEnv, make_api
from tracklet.storage import teams


def _user(server: LiveServer, name: str) -> str:
    storage = server.storage()
    try:
        return storage.create_user(name)[1]
    finally:
        storage.close()


def _api_as(server: LiveServer, key: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Any:
    import wandb

    make_api(server, workdir, monkeypatch)
    return wandb.Api(api_key=key, overrides={"base_url": server.url}, timeout=60)


def test_team_lifecycle_through_the_public_api(live_server: LiveServer, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    alice = _user(live_server, "t-alice")
    _user(live_server, "t-bob")
    outsider = _user(live_server, "t-eve")
    admin_api = make_api(live_server, tmp_path / "admin", monkeypatch)
    alice_api = _api_as(live_server, alice, tmp_path / "alice", monkeypatch)

    team = alice_api.create_team("t-vision")
    assert team.name == "t-vision"
    assert [(m.username, m.admin) for m in team.members] == [("t-alice", True)]
    assert team.invite("t-bob") is True
    assert team.invite("t-nobody") is False
    team.load(force=True)
    assert sorted(m.username for m in team.members) == ["t-alice", "t-bob"]
    service = team.create_service_account("ci bot")
    assert service is not None and service.account_type == "SERVICE"

    # api.user / api.users: admins find anyone; others themselves and their teammates.
    bob = admin_api.user("t-bob")
    assert bob is not None and bob.username == "t-bob"
    assert {u.username for u in admin_api.users("t-")} >= {"t-alice", "t-bob", "t-eve"}
    assert alice_api.user("t-bob").username == "t-bob"
    eve_api = _api_as(live_server, outsider, tmp_path / "eve", monkeypatch)
    assert eve_api.user("t-bob") is None
    assert "t-vision" in alice_api.viewer.teams

    # A member leaves through Member.delete().
    bob_member = next(m for m in team.members if m.username == "t-bob")
    assert bob_member.delete() is True
    team.load(force=True)
    assert "t-bob" not in [m.username for m in team.members]
    # Outsiders cannot add themselves, and learn nothing about the team.
    assert eve_api.create_team("t-vision-2").name == "t-vision-2"
    with pytest.raises(Exception, match="entity 't-vision' not found"):
        eve_api.team("t-vision")
    refused = httpx.post(f"{live_server.url}/graphql", auth=("api", outsider), timeout=30,
                         json={"query": 'mutation { createInvite(input: {entityName: '
                                        '"t-vision", username: "t-eve"}) { invite { id } } }'})
    assert refused.status_code == 404
    assert "t-eve" not in [m.username for m in alice_api.team("t-vision").members]

    # api.create_user (server admins) and api.create_project with its access.
    created = admin_api.create_user("t-carol@example.com")
    assert created.email == "t-carol@example.com"
    with pytest.raises(Exception, match="not found"):  # a non-admin: as if nothing existed
        alice_api.create_user("t-dave@example.com")
    alice_api.create_project("t-proj", "t-vision")
    answer = httpx.post(f"{live_server.url}/graphql", auth=("api", alice), timeout=30, json={
        "query": 'query { project(entityName: "t-vision", name: "t-proj") { name access } }'})
    assert answer.json()["data"]["project"] == {"name": "t-proj", "access": "TEAM"}
    hidden = httpx.post(f"{live_server.url}/graphql", auth=("api", outsider), timeout=30,
                        json={"query": 'query { project(entityName: "t-vision", '
                                       'name: "t-proj") { name } }'})
    assert hidden.json()["data"]["project"] is None


def test_unknown_entity_in_init_is_an_error_the_user_sees(live_server: LiveServer,
                                                          sdk: SdkEnv) -> None:
    key = _user(live_server, "t-frank")
    storage = live_server.storage()
    try:
        teams.create_team(storage, "t-frank-team", admin="t-frank")
    finally:
        storage.close()
    failed = sdk.run("""
        import wandb
        run = wandb.init(entity="t-no-such-entity", project="p", id="typo0001")
        run.finish()
    """, expect_rc=None, extra_env={"WANDB_API_KEY": key}, timeout=240)
    assert failed.returncode != 0
    assert "entity 't-no-such-entity' not found" in failed.stdout + failed.stderr
    storage = live_server.storage()
    try:
        from tracklet.storage.metadata import accounts

        with storage.db.read() as conn, pytest.raises(Exception, match="not found"):
            accounts.get_entity(conn, "t-no-such-entity")
    finally:
        storage.close()
    # The user's own entity, and a team they belong to, keep working.
    sdk.run("""
        import wandb
        for entity in ("t-frank", "t-frank-team"):
            run = wandb.init(entity=entity, project="p", id="own" + entity[-4:])
            run.log({"x": 1})
            run.finish()
    """, extra_env={"WANDB_API_KEY": key}, timeout=240)


def test_viewer_reads_a_teammates_run_but_cannot_write(live_server: LiveServer, sdk: SdkEnv,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    writer = _user(live_server, "t-gina")
    viewer = _user(live_server, "t-hal")
    storage = live_server.storage()
    try:
        teams.create_team(storage, "t-lab", admin="t-gina")
        teams.set_team_member(storage, "t-lab", "t-hal", teams.parse_role("viewer"))
    finally:
        storage.close()
    sdk.run("""
        import wandb
        run = wandb.init(entity="t-lab", project="shared", id="shared01", config={"lr": 0.1})
        for i in range(5):
            run.log({"loss": 1.0 / (i + 1)})
        run.finish()
    """, extra_env={"WANDB_API_KEY": writer}, timeout=240)

    hal = _api_as(live_server, viewer, tmp_path / "hal", monkeypatch)
    run = hal.run("t-lab/shared/shared01")
    assert run.config["lr"] == 0.1
    assert [row["loss"] for row in run.scan_history(keys=["loss"])] == [
        1.0, 0.5, 1.0 / 3, 0.25, 0.2]
    # Writing through the public API is refused, and nothing changes.
    run.config["lr"] = 9.9
    with pytest.raises(Exception, match="not found"):
        run.update()
    fresh = _api_as(live_server, viewer, tmp_path / "hal2", monkeypatch)
    assert fresh.run("t-lab/shared/shared01").config["lr"] == 0.1
    # So is logging into the team from a script.
    refused = sdk.run("""
        import wandb
        run = wandb.init(entity="t-lab", project="shared", id="viewer01")
        run.finish()
    """, expect_rc=None, extra_env={"WANDB_API_KEY": viewer}, timeout=240)
    assert refused.returncode != 0
    assert "entity 't-lab' not found" in refused.stdout + refused.stderr
