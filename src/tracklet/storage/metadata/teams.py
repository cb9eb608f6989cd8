"""Organizations, teams and their members' roles, project visibility, and the grants a user
holds through them (``domain.policy.Grants``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, and_, select

from tracklet.domain.policy import Grants, Role, Visibility
from tracklet.domain.records import Entity, User
from tracklet.errors import Conflict, NotFound
from tracklet.storage.metadata import project_members
from tracklet.storage.metadata.accounts import USER_COLUMNS, user_record
from tracklet.storage.metadata.tables import (
    entities,
    org_members,
    organizations,
    projects,
    team_members,
    users,
)
from tracklet.storage.metadata.upsert import insert_missing, upsert_rows


@dataclass(frozen=True)
class Organization:
    """An organization: teams belong to it, its members read what it is open to."""

    id: int
    name: str
    created_at: float


@dataclass(frozen=True)
class Member:
    """A user's role in a team or organization."""

    user: User
    role: Role


def create_org(conn: Connection, name: str) -> Organization:
    """A new organization; Conflict when the name is taken."""
    if not insert_missing(conn, organizations, {"name": name, "created_at": time.time()},
                          keys=("name",)):
        raise Conflict(f"organization {name!r} already exists")
    return get_org(conn, name)


def get_org(conn: Connection, name: str) -> Organization:
    """The organization called ``name``; NotFound when missing."""
    row = conn.execute(select(organizations).where(organizations.c.name == name)).first()
    if row is None:
        raise NotFound(f"organization {name!r} not found")
    return Organization(**row._mapping)


def org_entity_of(conn: Connection, org: Organization) -> Entity | None:
    """The organization's own entity (the team named after it, in it), or None for an
    organization made before organizations had one."""
    row = conn.execute(select(entities).where(entities.c.name == org.name,
                                              entities.c.org_id == org.id)).first()
    return None if row is None else Entity(**row._mapping)


def orgs_of_user(conn: Connection, user_id: int) -> list[Organization]:
    """The organizations a user belongs to: as an organization member, or through a team."""
    direct = select(org_members.c.org_id).where(org_members.c.user_id == user_id)
    via_team = (select(entities.c.org_id)
                .join(team_members, team_members.c.entity_id == entities.c.id)
                .where(team_members.c.user_id == user_id, entities.c.org_id.is_not(None)))
    rows = conn.execute(select(organizations).where(
        organizations.c.id.in_(direct.union(via_team).scalar_subquery()))
        .order_by(organizations.c.name))
    return [Organization(**r._mapping) for r in rows]


def org_by_id(conn: Connection, org_id: int) -> Organization:
    """The organization with this primary key."""
    row = conn.execute(select(organizations).where(organizations.c.id == org_id)).one()
    return Organization(**row._mapping)


def list_orgs(conn: Connection) -> list[Organization]:
    """Every organization, by name."""
    rows = conn.execute(select(organizations).order_by(organizations.c.name))
    return [Organization(**r._mapping) for r in rows]


def set_org_member(conn: Connection, org_id: int, user_id: int, role: Role) -> None:
    """Make a user a member of an organization with ``role`` (replacing any role)."""
    upsert_rows(conn, org_members, [{"org_id": org_id, "user_id": user_id, "role": role.value}],
                keys=("org_id", "user_id"), update=("role",))


def remove_org_member(conn: Connection, org_id: int, user_id: int) -> bool:
    """Take a user out of an organization; True if they were in it."""
    return bool(conn.execute(org_members.delete().where(
        org_members.c.org_id == org_id, org_members.c.user_id == user_id)).rowcount)


def org_role(conn: Connection, org_id: int, user_id: int) -> Role | None:
    """A user's role in an organization, or None."""
    value = conn.execute(select(org_members.c.role).where(
        org_members.c.org_id == org_id, org_members.c.user_id == user_id)).scalar_one_or_none()
    return None if value is None else Role(value)


def org_members_of(conn: Connection, org_id: int) -> list[Member]:
    """An organization's members, by username."""
    rows = conn.execute(
        select(*USER_COLUMNS, org_members.c.role.label("member_role"))
        .join(entities, entities.c.id == users.c.entity_id)
        .join(org_members, org_members.c.user_id == users.c.id)
        .where(org_members.c.org_id == org_id).order_by(users.c.username))
    return [_member(r) for r in rows]


def _member(row: object) -> Member:
    mapping = dict(row._mapping)  # type: ignore[attr-defined]
    role = Role(mapping.pop("member_role"))
    return Member(user_record_from(mapping), role)


def user_record_from(mapping: dict[str, object]) -> User:
    """A User from a mapping of :data:`USER_COLUMNS` values."""
    return User(**mapping)  # type: ignore[arg-type]


def create_team(conn: Connection, name: str, org_id: int | None) -> Entity:
    """A new team entity; Conflict when any entity (user or team) has the name."""
    taken = Conflict(f"an entity called {name!r} already exists")
    if conn.execute(select(entities.c.id).where(entities.c.name == name)).first():
        raise taken
    now = time.time()
    insert_missing(conn, entities, {"name": name, "is_team": True, "org_id": org_id,
                                    "created_at": now}, keys=("name",))
    row = conn.execute(select(entities).where(entities.c.name == name)).one()
    if not row.is_team or row.created_at != now:  # a concurrent transaction took the name
        raise taken
    return Entity(**row._mapping)


def set_team_member(conn: Connection, entity_id: int, user_id: int, role: Role) -> None:
    """Make a user a member of a team with ``role`` (replacing any role)."""
    upsert_rows(conn, team_members,
                [{"entity_id": entity_id, "user_id": user_id, "role": role.value}],
                keys=("entity_id", "user_id"), update=("role",))


def remove_team_member(conn: Connection, entity_id: int, user_id: int) -> bool:
    """Take a user out of a team; True if they were in it."""
    return bool(conn.execute(team_members.delete().where(
        team_members.c.entity_id == entity_id, team_members.c.user_id == user_id)).rowcount)


def team_members_of(conn: Connection, entity_id: int) -> list[Member]:
    """A team's members, by username."""
    rows = conn.execute(
        select(*USER_COLUMNS, team_members.c.role.label("member_role"))
        .join(entities, entities.c.id == users.c.entity_id)
        .join(team_members, team_members.c.user_id == users.c.id)
        .where(team_members.c.entity_id == entity_id).order_by(users.c.username))
    return [_member(r) for r in rows]


def teams_of(conn: Connection, user_id: int) -> list[tuple[Entity, Role]]:
    """The teams a user is a member of, with their role, by name."""
    rows = conn.execute(
        select(entities, team_members.c.role.label("member_role"))
        .join(team_members, team_members.c.entity_id == entities.c.id)
        .where(team_members.c.user_id == user_id).order_by(entities.c.name))
    return project_members.with_roles(rows, Entity)


def list_teams(conn: Connection, org_id: int | None = None) -> list[Entity]:
    """Team entities (of one organization when ``org_id`` is given), by name."""
    q = select(entities).where(entities.c.is_team.is_(True)).order_by(entities.c.name)
    if org_id is not None:
        q = q.where(entities.c.org_id == org_id)
    return [Entity(**r._mapping) for r in conn.execute(q)]


def set_project_access(conn: Connection, project_id: int, visibility: Visibility) -> None:
    """Set a project's visibility."""
    conn.execute(projects.update().where(projects.c.id == project_id)
                 .values(access=visibility.value))


def list_users(conn: Connection, query: str | None = None, limit: int = 100) -> list[User]:
    """Users whose username or email contains ``query`` (all without it), by username."""
    q = (select(*USER_COLUMNS).join(entities, entities.c.id == users.c.entity_id)
         .order_by(users.c.username).limit(limit))
    if query:
        q = q.where(users.c.username.contains(query, autoescape=True)
                    | users.c.email.contains(query, autoescape=True))
    return [user_record(r) for r in conn.execute(q)]


_STRENGTH = {Role.ADMIN: 0, Role.MEMBER: 1, Role.VIEWER: 2}


def grants_of(conn: Connection, user: User) -> Grants:
    """Everything ``user`` holds beyond their own entity (see ``domain.policy.Grants``)."""
    roles: dict[str, Role] = {}
    for name, role in conn.execute(
            select(entities.c.name, team_members.c.role)
            .join(team_members, team_members.c.entity_id == entities.c.id)
            .where(team_members.c.user_id == user.id)):
        roles[name] = Role(role)
    org_rows = conn.execute(select(org_members.c.org_id, org_members.c.role)
                            .where(org_members.c.user_id == user.id)).all()
    admin_orgs = [r.org_id for r in org_rows if r.role == Role.ADMIN.value]
    if admin_orgs:
        for name in conn.execute(select(entities.c.name).where(
                entities.c.org_id.in_(admin_orgs))).scalars():
            roles[name] = Role.ADMIN
    org_readable: frozenset[tuple[str, str]] = frozenset()
    org_entities: frozenset[str] = frozenset()
    if org_rows:
        org_entities = frozenset(conn.execute(
            select(entities.c.name)
            .join(organizations, and_(organizations.c.id == entities.c.org_id,
                                      organizations.c.name == entities.c.name))
            .where(organizations.c.id.in_([r.org_id for r in org_rows]))).scalars())
        org_readable = frozenset(
            (r.entity, r.name) for r in conn.execute(
                select(entities.c.name.label("entity"), projects.c.name)
                .join(entities, entities.c.id == projects.c.entity_id)
                .where(entities.c.org_id.in_([r.org_id for r in org_rows]),
                       projects.c.access == Visibility.ORGANIZATION.value)))
    private: frozenset[tuple[str, str]] = frozenset()
    if roles:
        private = frozenset(
            (r.entity, r.name) for r in conn.execute(
                select(entities.c.name.label("entity"), projects.c.name)
                .join(entities, and_(entities.c.id == projects.c.entity_id,
                                     entities.c.name.in_(list(roles))))
                .where(projects.c.access == Visibility.PRIVATE.value)))
    ordered = tuple(sorted(roles.items(), key=lambda kv: (_STRENGTH[kv[1]], kv[0])))
    held = tuple(sorted(project_members.project_roles_of(conn, user.id).items(),
                        key=lambda kv: kv[0]))
    return Grants(roles=ordered, org_readable=org_readable, private=private,
                  org_entities=org_entities, project_roles=held)
