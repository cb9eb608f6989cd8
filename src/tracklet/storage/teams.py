"""Administering organizations, teams, roles, service accounts and project visibility.

Every operation names its ``actor``: the user asking (checked by ``domain.policy``), or
None for the command line, which runs as the server's owner. Each one is written to the
audit log and bumps the auth version in its own transaction, so every server process
reloads the grants of its cached callers on their next request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracklet.domain.keys import hash_api_key, key_name, new_api_key
from tracklet.domain.names import validate_name
from tracklet.domain.policy import Action, Role, Subject, Visibility, can, require
from tracklet.domain.records import Entity, Project, User
from tracklet.domain.registry import is_registry, registry_visibility
from tracklet.errors import Conflict, InvalidInput, NotFound
from tracklet.storage.metadata import accounts, audit
from tracklet.storage.metadata import teams as repo

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from tracklet.storage.facade import Storage


def _name(actor: User | None) -> str | None:
    return actor.username if actor is not None else None


def _require_server_admin(actor: User | None, what: str) -> None:
    if actor is not None and not actor.admin:
        raise NotFound(f"{what} not found")


def _user(conn: Connection, username: str) -> User:
    user = accounts.get_user_by_name(conn, username)
    if user is None:
        raise NotFound(f"no user called {username!r}")
    return user


def _current(conn: Connection, actor: User) -> Subject:
    """``actor`` with their grants as stored now (a request's may predate this change)."""
    return Subject.of(actor, repo.grants_of(conn, actor))


def _team(conn: Connection, name: str, actor: User | None, action: Action) -> Entity:
    """The team ``name`` if ``actor`` may do ``action`` to it; NotFound otherwise."""
    if actor is not None:
        require(_current(conn, actor), action, name)
    entity = accounts.get_entity(conn, name)
    if not entity.is_team:
        raise NotFound(f"team {name!r} not found")
    return entity


def parse_role(value: str) -> Role:
    """A role from its name; InvalidInput otherwise."""
    try:
        return Role.parse(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def parse_visibility(value: str | None) -> Visibility:
    """A project visibility from its name; InvalidInput otherwise."""
    try:
        return Visibility.parse(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def create_org(storage: Storage, name: str, actor: User | None = None) -> repo.Organization:
    """A new organization with its own entity, a team of the same name where its registries
    live (server admins only); Conflict when the name is an organization's or an entity's."""
    _require_server_admin(actor, f"organization {name!r}")
    validate_name("organization", name)
    with storage.db.write() as conn:
        org = repo.create_org(conn, name)
        repo.create_team(conn, name, org.id)
        audit.record(conn, _name(actor), "org.create", name)
    return org


def _org_for(conn: Connection, name: str, actor: User | None, manage: bool) -> repo.Organization:
    org = repo.get_org(conn, name)
    if actor is None or actor.admin:
        return org
    role = repo.org_role(conn, org.id, actor.id)
    if role is None or (manage and role is not Role.ADMIN):
        raise NotFound(f"organization {name!r} not found")
    return org


def _keep_an_admin(members: list[repo.Member], user: User, role: Role | None,
                   where: str) -> None:
    """Conflict when giving ``user`` ``role`` (None: taking them out) would leave ``where``
    without an admin: nobody could then add members, change roles or visibility."""
    admins = [m.user.id for m in members if m.role is Role.ADMIN]
    if role is not Role.ADMIN and admins == [user.id]:
        raise Conflict(f"{user.username!r} is the last admin of {where}: make another member "
                       "an admin first")


def set_org_member(storage: Storage, org: str, username: str, role: Role,
                   actor: User | None = None) -> None:
    """Add ``username`` to organization ``org`` with ``role`` (or change their role): its
    admins and server admins. Its last admin keeps the role (Conflict)."""
    with storage.db.write() as conn:
        found = _org_for(conn, org, actor, manage=True)
        user = _user(conn, username)
        _keep_an_admin(repo.org_members_of(conn, found.id), user, role,
                       f"organization {org!r}")
        repo.set_org_member(conn, found.id, user.id, role)
        accounts.bump_auth_version(conn)
        audit.record(conn, _name(actor), "org.member.set", f"{org}/{username}", role.value)


def remove_org_member(storage: Storage, org: str, username: str,
                      actor: User | None = None) -> None:
    """Take ``username`` out of organization ``org``; NotFound if they were not in it,
    Conflict if they are its last admin."""
    with storage.db.write() as conn:
        found = _org_for(conn, org, actor, manage=True)
        user = _user(conn, username)
        _keep_an_admin(repo.org_members_of(conn, found.id), user, None,
                       f"organization {org!r}")
        if not repo.remove_org_member(conn, found.id, user.id):
            raise NotFound(f"{username!r} is not a member of {org!r}")
        accounts.bump_auth_version(conn)
        audit.record(conn, _name(actor), "org.member.remove", f"{org}/{username}")


def org_members(storage: Storage, org: str, actor: User | None = None) -> list[repo.Member]:
    """The members of organization ``org`` (for its members and server admins)."""
    with storage.db.read() as conn:
        return repo.org_members_of(conn, _org_for(conn, org, actor, manage=False).id)


def create_team(storage: Storage, name: str, actor: User | None = None,
                org: str | None = None, admin: str | None = None) -> Entity:
    """A new team entity with ``admin`` (default: the actor) as its first admin.

    Anyone may create a team of their own; a team in an organization needs that
    organization's admin; only server admins name another user as the team's admin.
    """
    validate_name("team", name)
    with storage.db.write() as conn:
        org_id = _org_for(conn, org, actor, manage=True).id if org is not None else None
        if admin is None and actor is None:
            raise InvalidInput("name the team's first admin")
        if admin is not None and actor is not None and not actor.admin \
                and admin != actor.username:
            raise NotFound(f"no user called {admin!r}")
        first = _user(conn, admin) if admin is not None else actor
        assert first is not None
        team = repo.create_team(conn, name, org_id)
        repo.set_team_member(conn, team.id, first.id, Role.ADMIN)
        accounts.bump_auth_version(conn)
        audit.record(conn, _name(actor), "team.create", name,
                     f"admin {first.username}" + (f", org {org}" if org else ""))
    return team


def set_team_member(storage: Storage, team: str, username: str, role: Role,
                    actor: User | None = None) -> None:
    """Add ``username`` to ``team`` with ``role`` (or change it): the team's admins. Its
    last admin keeps the role (Conflict)."""
    with storage.db.write() as conn:
        entity = _team(conn, team, actor, Action.ADMIN)
        user = _user(conn, username)
        _keep_an_admin(repo.team_members_of(conn, entity.id), user, role, f"team {team!r}")
        repo.set_team_member(conn, entity.id, user.id, role)
        accounts.bump_auth_version(conn)
        audit.record(conn, _name(actor), "team.member.set", f"{team}/{username}", role.value)


def remove_team_member(storage: Storage, team: str, username: str,
                       actor: User | None = None) -> None:
    """Take ``username`` out of ``team`` (the team's admins; a member may leave; its last
    admin may not: Conflict)."""
    with storage.db.write() as conn:
        leaving = actor is not None and actor.username == username
        entity = _team(conn, team, actor, Action.READ if leaving else Action.ADMIN)
        user = _user(conn, username)
        _keep_an_admin(repo.team_members_of(conn, entity.id), user, None, f"team {team!r}")
        if not repo.remove_team_member(conn, entity.id, user.id):
            raise NotFound(f"{username!r} is not a member of {team!r}")
        accounts.bump_auth_version(conn)
        audit.record(conn, _name(actor), "team.member.remove", f"{team}/{username}")


def team_members(storage: Storage, team: str, actor: User | None = None) -> list[repo.Member]:
    """The members of ``team`` with their roles (for anyone who may read the team)."""
    with storage.db.read() as conn:
        return repo.team_members_of(conn, _team(conn, team, actor, Action.READ).id)


def teams_of(storage: Storage, username: str) -> list[tuple[Entity, Role]]:
    """The teams ``username`` belongs to, with their role."""
    with storage.db.read() as conn:
        return repo.teams_of(conn, _user(conn, username).id)


def create_service_account(storage: Storage, team: str, description: str | None,
                           actor: User | None = None) -> tuple[User, str]:
    """A service account (a keys-only user, named after the team and ``description``) that
    is a member of ``team``; returns it and its first API key (shown once). The team's
    admins only."""
    key = new_api_key()
    with storage.db.write() as conn:
        entity = _team(conn, team, actor, Action.ADMIN)
        name = service_account_name(conn, team, description)
        user = accounts.create_user(conn, name, admin=False, service_account=True)
        accounts.add_api_key(conn, user.id, hash_api_key(storage.secret.pepper, key),
                             key_name(key))
        repo.set_team_member(conn, entity.id, user.id, Role.MEMBER)
        accounts.bump_auth_version(conn)
        audit.record(conn, _name(actor), "user.create", name, f"service account of {team}")
    return user, key


def set_server_admin(storage: Storage, username: str, admin: bool,
                     actor: User | None = None) -> None:
    """Make ``username`` a server admin or not (server admins only). The server keeps its
    last admin: demoting them is a Conflict."""
    _require_server_admin(actor, "user")
    with storage.db.write() as conn:
        user = _user(conn, username)
        if user.admin and not admin and accounts.count_admins(conn, besides=user.id) == 0:
            raise Conflict(f"{username!r} is the last server admin: make another user an "
                           "admin first")
        accounts.set_admin(conn, user.id, admin)
        accounts.bump_auth_version(conn)
        audit.record(conn, _name(actor), "user.admin" if admin else "user.admin.revoke",
                     username)


def create_user(storage: Storage, username: str, actor: User | None = None,
                email: str | None = None, admin: bool = False) -> tuple[User, str]:
    """A new user and their first API key (shown once): server admins only."""
    _require_server_admin(actor, "user")
    validate_name("user", username)
    key = new_api_key()
    with storage.db.write() as conn:
        user = accounts.create_user(conn, username, admin=admin, email=email)
        accounts.add_api_key(conn, user.id, hash_api_key(storage.secret.pepper, key),
                             key_name(key))
        audit.record(conn, _name(actor), "user.create", username,
                     "admin" if admin else None)
    return user, key


def set_project_access(storage: Storage, entity: str, project: str, visibility: Visibility,
                       actor: User | None = None) -> Project:
    """Set a project's visibility (the entity's admins)."""
    with storage.db.write() as conn:
        if actor is not None:
            require(_current(conn, actor), Action.ADMIN, entity, project)
        found = accounts.find_project(conn, entity, project)
        if found is None:
            raise NotFound(f"project {entity}/{project} not found")
        repo.set_project_access(conn, found.id, visibility)
        accounts.bump_auth_version(conn)
        audit.record(conn, _name(actor), "project.access", f"{entity}/{project}",
                     visibility.value)
        updated = accounts.find_project(conn, entity, project)
    assert updated is not None
    return updated


def visible_teams(storage: Storage, actor: User) -> list[Entity]:
    """The teams ``actor`` may read (all of them for a server admin)."""
    with storage.db.read() as conn:
        teams = repo.list_teams(conn)
    return [t for t in teams if can(actor, Action.READ, t.name)]


def audit_entries(storage: Storage, actor: User | None = None, limit: int = 100,
                  before_id: int | None = None) -> list[audit.AuditEntry]:
    """The audit log, newest first: server admins only."""
    _require_server_admin(actor, "audit log")
    with storage.db.read() as conn:
        return audit.entries(conn, limit=limit, before_id=before_id)


def ensure_writable_entity(conn: Connection, actor: User, name: str) -> Entity:
    """The entity ``name`` for ``actor`` to write runs or projects into.

    The actor's own entity is created on first use; any other must already exist (a typo
    in ``wandb.init(entity=...)`` is an error the user sees, as on W&B, not a new entity)
    and allow the actor to write.
    """
    if name == actor.entity:
        return accounts.ensure_entity(conn, name)
    require(actor, Action.WRITE, name)
    try:
        return accounts.get_entity(conn, name)
    except NotFound:
        raise NotFound(f"entity {name!r} not found") from None



def upsert_project(storage: Storage, actor: User, entity: str, name: str,
                   description: str | None = None, access: str | None = None
                   ) -> tuple[Project, bool]:
    """Create project ``entity/name`` (or update its description and visibility) for
    ``actor``; returns (project, inserted). Writers of the entity create and describe it;
    changing its visibility takes the entity's admin."""
    validate_name("project", name)
    registry = is_registry(name)
    if registry:
        visibility: Visibility | None = _registry_visibility(access)
    else:
        visibility = parse_visibility(access) if access is not None else None
    with storage.db.write() as conn:
        actor = _current(conn, actor)
        target = ensure_writable_entity(conn, actor, entity)
        existing = accounts.find_project(conn, entity, name)
        require(actor, Action.WRITE, entity, name if existing is not None else None)
        if registry:
            _check_registry_home(conn, actor, target)
            if existing is not None and access is None:
                visibility = None  # an update that leaves the visibility alone
        project = accounts.ensure_project(conn, target, name)
        if description is not None:
            accounts.set_project_description(conn, project.id, description)
        if visibility is not None and visibility.value != (project.access or "TEAM"):
            require(actor, Action.ADMIN, entity, name)
            repo.set_project_access(conn, project.id, visibility)
            accounts.bump_auth_version(conn)
            audit.record(conn, actor.username, "project.access", f"{entity}/{name}",
                         visibility.value)
        updated = accounts.find_project(conn, entity, name)
    assert updated is not None
    return updated, existing is None


def _registry_visibility(access: str | None) -> Visibility:
    try:
        return registry_visibility(access)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _check_registry_home(conn: Connection, actor: User, entity: Entity) -> None:
    """Registries live in an organization's own entity and are made by its admins."""
    org = repo.org_by_id(conn, entity.org_id) if entity.org_id is not None else None
    if org is None or org.name != entity.name:
        raise InvalidInput(f"registries live in an organization's entity, not {entity.name!r}")
    require(actor, Action.ADMIN, entity.name)


def delete_team_member_by_id(storage: Storage, team: str, user_id: int, actor: User) -> None:
    """Take the user with id ``user_id`` out of ``team`` (W&B's deleteInvite)."""
    with storage.db.read() as conn:
        user = accounts.get_user(conn, user_id)
    remove_team_member(storage, team, user.username, actor)


def service_account_name(conn: Connection, team: str, description: str | None) -> str:
    """A free username for a service account of ``team`` described by ``description``."""
    base = "".join(c if c.isalnum() or c in "-_." else "-" for c in (description or ""))
    base = (base.strip("-.") or "service")[:48]
    name, n = f"{team[:60]}-{base}", 1
    while accounts.get_user_by_name(conn, name) is not None or _entity_exists(conn, name):
        n += 1
        name = f"{team[:60]}-{base}-{n}"
    return name


def _entity_exists(conn: Connection, name: str) -> bool:
    try:
        accounts.get_entity(conn, name)
    except NotFound:
        return False
    return True
