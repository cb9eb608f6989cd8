"""Roles held on one project (a registry's members): by a user, or by every member of a
team. They add to what entity roles grant (``domain.policy.Grants.project_roles``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import Connection, select

from tracklet.domain.policy import Role
from tracklet.domain.records import Entity, User
from tracklet.errors import NotFound
from tracklet.storage.metadata.accounts import USER_COLUMNS
from tracklet.storage.metadata.tables import (
    entities,
    project_team_members,
    project_user_members,
    projects,
    team_members,
    users,
)
from tracklet.storage.metadata.upsert import upsert_rows

_T = TypeVar("_T")


def with_roles(rows: Iterable[Any], make: Callable[..., _T]) -> list[tuple[_T, Role]]:
    """(record, role) of rows holding a record's columns plus ``member_role``."""
    out = []
    for row in rows:
        mapping = dict(row._mapping)
        role = Role(mapping.pop("member_role"))
        out.append((make(**mapping), role))
    return out


def get_team(conn: Connection, entity_id: int) -> Entity:
    """The team with id ``entity_id``; NotFound for a personal entity or none."""
    row = conn.execute(select(entities).where(entities.c.id == entity_id)).first()
    if row is None or not row.is_team:
        raise NotFound("team not found")
    return Entity(**row._mapping)


def set_user_role(conn: Connection, project_id: int, user_id: int, role: Role) -> None:
    """Give a user ``role`` on a project (replacing theirs)."""
    upsert_rows(conn, project_user_members, [{"project_id": project_id, "user_id": user_id,
                                              "role": role.value}],
                keys=("project_id", "user_id"), update=("role",))


def set_team_role(conn: Connection, project_id: int, entity_id: int, role: Role) -> None:
    """Give every member of a team ``role`` on a project (replacing the team's)."""
    upsert_rows(conn, project_team_members, [{"project_id": project_id,
                                              "entity_id": entity_id, "role": role.value}],
                keys=("project_id", "entity_id"), update=("role",))


def remove_user(conn: Connection, project_id: int, user_id: int) -> bool:
    """Take a user's role on a project away; True if they held one."""
    return bool(conn.execute(project_user_members.delete().where(
        project_user_members.c.project_id == project_id,
        project_user_members.c.user_id == user_id)).rowcount)


def remove_team(conn: Connection, project_id: int, entity_id: int) -> bool:
    """Take a team's role on a project away; True if it held one."""
    return bool(conn.execute(project_team_members.delete().where(
        project_team_members.c.project_id == project_id,
        project_team_members.c.entity_id == entity_id)).rowcount)


def user_members_of(conn: Connection, project_id: int) -> list[tuple[User, Role]]:
    """The users holding a role on a project, by username."""
    rows = conn.execute(
        select(*USER_COLUMNS, project_user_members.c.role.label("member_role"))
        .join(entities, entities.c.id == users.c.entity_id)
        .join(project_user_members, project_user_members.c.user_id == users.c.id)
        .where(project_user_members.c.project_id == project_id).order_by(users.c.username))
    return with_roles(rows, User)


def team_members_of(conn: Connection, project_id: int) -> list[tuple[Entity, Role]]:
    """The teams holding a role on a project, by name."""
    rows = conn.execute(
        select(entities, project_team_members.c.role.label("member_role"))
        .join(project_team_members, project_team_members.c.entity_id == entities.c.id)
        .where(project_team_members.c.project_id == project_id).order_by(entities.c.name))
    return with_roles(rows, Entity)


_STRENGTH = {Role.ADMIN: 0, Role.MEMBER: 1, Role.VIEWER: 2}


def project_roles_of(conn: Connection, user_id: int) -> dict[tuple[str, str], Role]:
    """(entity, project) -> the strongest role ``user_id`` holds on it, directly or
    through a team."""
    out: dict[tuple[str, str], Role] = {}
    owner = entities.alias("owner")
    direct = (select(owner.c.name.label("entity"), projects.c.name, project_user_members.c.role)
              .join(projects, projects.c.id == project_user_members.c.project_id)
              .join(owner, owner.c.id == projects.c.entity_id)
              .where(project_user_members.c.user_id == user_id))
    via_team = (select(owner.c.name.label("entity"), projects.c.name,
                       project_team_members.c.role)
                .join(projects, projects.c.id == project_team_members.c.project_id)
                .join(owner, owner.c.id == projects.c.entity_id)
                .join(team_members, team_members.c.entity_id == project_team_members.c.entity_id)
                .where(team_members.c.user_id == user_id))
    for query in (direct, via_team):
        for entity, project, value in conn.execute(query):
            role = Role(value)
            held = out.get((entity, project))
            if held is None or _STRENGTH[role] < _STRENGTH[held]:
                out[(entity, project)] = role
    return out
