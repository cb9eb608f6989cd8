"""Registry members through GraphQL on both deployment kinds: a team given a role on a
restricted registry lets its members in; only those who administer the registry manage its
members; a bad role or id is a clear 400. (The SDK's own calls: tests/e2e/test_registries.)"""

from __future__ import annotations

from typing import Any

from tests.support.app import InProcessApp
from tracklet.domain.policy import Role
from tracklet.server.graphql.ids import encode_id
from tracklet.storage import teams

READ = """query($o: String!) { project(entityName: $o, name: "wandb-registry-vault") { name
  members { username role { name } } teamMembers { team { name isTeam } role { name } } } }"""


def _as(app: InProcessApp, key: str, query: str, variables: dict[str, Any] | None = None
        ) -> tuple[int, dict[str, Any]]:
    got = app.client.post("/graphql", json={"query": query, "variables": variables or {}},
                          auth=("api", key))
    assert got.status_code < 500, got.text
    return got.status_code, got.json()


def test_team_members_of_a_registry(app: InProcessApp) -> None:
    storage = app.storage
    ann, ann_key = storage.create_user("ann")
    _cy, cy_key = storage.create_user("cy")
    teams.create_org(storage, "acme")
    for name, role in (("ann", Role.ADMIN), ("cy", Role.MEMBER)):
        teams.set_org_member(storage, "acme", name, role)
    team = teams.create_team(storage, "vision", org="acme", admin="ann")
    teams.set_team_member(storage, "vision", "cy", Role.VIEWER)
    project, _ = teams.upsert_project(storage, ann, "acme", "wandb-registry-vault",
                                      access="restricted")
    assert _as(app, cy_key, READ, {"o": "acme"})[1]["data"]["project"] is None
    add = """mutation($i: CreateProjectMembersInput!) { createProjectMembers(input: $i) {
        success } }"""
    ids = {"projectId": encode_id("Project", project.id), "teamIds": [encode_id("Entity",
                                                                               team.id)]}
    # cy, an org member with no role on the registry, may not add his own team.
    status, refused = _as(app, cy_key, add, {"i": ids})
    assert refused["errors"][0]["message"] == "project not found"
    assert _as(app, ann_key, add, {"i": ids})[1]["data"] == {
        "createProjectMembers": {"success": True}}
    seen = _as(app, cy_key, READ, {"o": "acme"})[1]["data"]["project"]
    assert seen == {"name": "wandb-registry-vault", "members": [], "teamMembers": [
        {"team": {"name": "vision", "isTeam": True}, "role": {"name": "member"}}]}
    update = """mutation($i: UpdateProjectTeamMemberInput!) { updateProjectTeamMember(
        input: $i) { success } }"""
    status, bad = _as(app, ann_key, update, {"i": {
        "projectId": ids["projectId"], "teamId": ids["teamIds"][0], "teamProjectRole": "owner"}})
    assert status == 400 and "role must be one of admin, member, viewer" in \
        bad["errors"][0]["message"]
    status, bad = _as(app, ann_key, update, {"i": {
        "projectId": "bm9wZQ==", "teamId": ids["teamIds"][0], "teamProjectRole": "viewer"}})
    assert status == 400 and "invalid Project id" in bad["errors"][0]["message"]
    _as(app, ann_key, update, {"i": {"projectId": ids["projectId"],
                                     "teamId": ids["teamIds"][0], "teamProjectRole": "admin"}})
    # Now an admin of the registry through his team, cy manages its members.
    _, removed = _as(app, cy_key, """mutation($i: DeleteProjectMembersInput!) {
        deleteProjectMembers(input: $i) { success } }""", {"i": ids})
    assert removed["data"] == {"deleteProjectMembers": {"success": True}}
    assert _as(app, cy_key, READ, {"o": "acme"})[1]["data"]["project"] is None
    actions = [e.action for e in teams.audit_entries(storage)]
    assert actions[:3] == ["project.member.remove", "project.member.set", "project.member.add"]
