"""A registry's members: users and teams given a role on one project (``registry.members()``,
``add_members``, ``update_member``, ``remove_members`` in the SDK). Managed by whoever may
administer the project (its entity's admins: for a registry, the organization's); every
change is audited and takes effect at once in every process (the auth version)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from tracklet.domain.policy import Action, Role, require
from tracklet.domain.records import Entity, Project, User
from tracklet.errors import InvalidInput
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts, audit
from tracklet.storage.metadata import project_members as repo

#: The SDK's member roles; ``restricted_viewer`` reads as a viewer does here.
_ROLES = {"admin": Role.ADMIN, "member": Role.MEMBER, "viewer": Role.VIEWER,
          "restricted_viewer": Role.VIEWER}


def parse_role(value: str) -> Role:
    """A member role by the SDK's name; InvalidInput otherwise."""
    role = _ROLES.get(value.strip().lower()) if isinstance(value, str) else None
    if role is None:
        raise InvalidInput(f"role must be one of {', '.join(_ROLES)}; not {value!r}")
    return role


def _managed(conn: Connection, project_id: int, actor: User) -> Project:
    project = accounts.get_project_by_id(conn, project_id)
    require(actor, Action.ADMIN, project.entity, project.name, missing="project not found")
    return project


def _changed(conn: Connection, actor: User, action: str, project: Project, who: str,
             detail: str | None = None) -> None:
    accounts.bump_auth_version(conn)
    audit.record(conn, actor.username, action, f"{project.entity}/{project.name} {who}", detail)


def add(storage: Storage, project_id: int, user_ids: Sequence[int], team_ids: Sequence[int],
        actor: User, role: Role = Role.MEMBER) -> None:
    """Give users and teams ``role`` on the project (keeping a role they already hold)."""
    with storage.db.write() as conn:
        project = _managed(conn, project_id, actor)
        held_users = {u.id for u, _r in repo.user_members_of(conn, project.id)}
        held_teams = {t.id for t, _r in repo.team_members_of(conn, project.id)}
        for user_id in user_ids:
            user = accounts.get_user(conn, user_id)
            if user.id not in held_users:
                repo.set_user_role(conn, project.id, user.id, role)
                _changed(conn, actor, "project.member.add", project, user.username, role.value)
        for team_id in team_ids:
            team = repo.get_team(conn, team_id)
            if team.id not in held_teams:
                repo.set_team_role(conn, project.id, team.id, role)
                _changed(conn, actor, "project.member.add", project, team.name, role.value)


def remove(storage: Storage, project_id: int, user_ids: Sequence[int],
           team_ids: Sequence[int], actor: User) -> None:
    """Take users' and teams' roles on the project away."""
    with storage.db.write() as conn:
        project = _managed(conn, project_id, actor)
        for user_id in user_ids:
            if repo.remove_user(conn, project.id, user_id):
                _changed(conn, actor, "project.member.remove", project, f"user {user_id}")
        for team_id in team_ids:
            if repo.remove_team(conn, project.id, team_id):
                _changed(conn, actor, "project.member.remove", project, f"team {team_id}")


def set_role(storage: Storage, project_id: int, actor: User, role: Role, *,
             user_id: int | None = None, team_id: int | None = None) -> None:
    """Change (or give) one user's or one team's role on the project."""
    with storage.db.write() as conn:
        project = _managed(conn, project_id, actor)
        if user_id is not None:
            user = accounts.get_user(conn, user_id)
            repo.set_user_role(conn, project.id, user.id, role)
            _changed(conn, actor, "project.member.set", project, user.username, role.value)
        if team_id is not None:
            team = repo.get_team(conn, team_id)
            repo.set_team_role(conn, project.id, team.id, role)
            _changed(conn, actor, "project.member.set", project, team.name, role.value)


def members(storage: Storage, project_id: int) -> tuple[list[tuple[User, Role]],
                                                         list[tuple[Entity, Role]]]:
    """(users, teams) holding a role on the project (the caller has read it already)."""
    with storage.db.read() as conn:
        return repo.user_members_of(conn, project_id), repo.team_members_of(conn, project_id)
