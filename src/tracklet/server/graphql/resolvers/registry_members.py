"""A registry's members as the SDK manages them: ``createProjectMembers``,
``deleteProjectMembers``, ``updateProjectMember``, ``updateProjectTeamMember`` and the
``Project.members`` / ``Project.teamMembers`` lists (``storage.registry_members``)."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, ObjectType

from tracklet.domain.records import Project
from tracklet.errors import InvalidInput
from tracklet.server.graphql.context import Info
from tracklet.server.graphql.ids import decode_id, encode_id
from tracklet.storage import registry_members

mutation = MutationType()
project_type = ObjectType("Project")


def _ids(data: dict[str, Any], key: str, kind: str) -> list[int]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{key} must be a list of ids")
    return [decode_id(kind, v) for v in value]


def _one(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{key} is required")
    return value


@mutation.field("createProjectMembers")
def resolve_create_project_members(_: Any, info: Info,
                                   input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    """Add users and teams to a registry as members."""
    ctx = info.context
    registry_members.add(ctx.storage, decode_id("Project", _one(input, "project_id")),
                         _ids(input, "user_ids", "User"), _ids(input, "team_ids", "Entity"),
                         ctx.user)
    return {"success": True}


@mutation.field("deleteProjectMembers")
def resolve_delete_project_members(_: Any, info: Info,
                                   input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    """Take users and teams out of a registry."""
    ctx = info.context
    registry_members.remove(ctx.storage, decode_id("Project", _one(input, "project_id")),
                            _ids(input, "user_ids", "User"),
                            _ids(input, "team_ids", "Entity"), ctx.user)
    return {"success": True}


@mutation.field("updateProjectMember")
def resolve_update_project_member(_: Any, info: Info,
                                  input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    """Change a user's role in a registry."""
    return _set_role(info, input, "user_project_role",
                     user_id=decode_id("User", _one(input, "user_id")))


@mutation.field("updateProjectTeamMember")
def resolve_update_project_team_member(_: Any, info: Info,
                                       input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    """Change a team's role in a registry."""
    return _set_role(info, input, "team_project_role",
                     team_id=decode_id("Entity", _one(input, "team_id")))


def _set_role(info: Info, input: dict[str, Any], role_field: str,  # noqa: A002
              **member: int) -> dict[str, Any]:
    ctx = info.context
    registry_members.set_role(
        ctx.storage, decode_id("Project", _one(input, "project_id")), ctx.user,
        registry_members.parse_role(_one(input, role_field)), **member)
    return {"success": True}


@project_type.field("members")
def resolve_project_members(project: Project, info: Info) -> list[dict[str, Any]]:
    """The users holding a role on the project itself (a project the caller reads)."""
    users, _teams = registry_members.members(info.context.storage, project.id)
    return [{"id": encode_id("User", u.id), "name": u.username, "username": u.username,
             "email": u.email, "role": {"name": r.value}} for u, r in users]


@project_type.field("teamMembers")
def resolve_project_team_members(project: Project, info: Info) -> list[dict[str, Any]]:
    """The teams holding a role on the project itself."""
    _users, teams = registry_members.members(info.context.storage, project.id)
    return [{"team": t, "role": {"name": r.value}} for t, r in teams]


BINDABLES = [mutation, project_type]
