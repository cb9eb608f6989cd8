"""Teams, users and project access as the SDK's public API asks for them: ``api.create_team``
(createTeam), ``Team.invite`` (createInvite), ``Member.delete`` (deleteInvite),
``Team.create_service_account``, ``api.create_user`` (createUser), ``api.user(s)``
(users), ``api.create_project`` (upsertModel) and ``Project.access``.

Permissions are ``domain.policy``'s, applied by ``storage.teams``; a refusal reads as the
thing not existing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ariadne import MutationType, ObjectType, QueryType

from tracklet.domain.policy import Action, Role, Visibility, can, grants_of
from tracklet.domain.records import Entity, Project, User
from tracklet.domain.registry import is_registry, registry_access
from tracklet.errors import InvalidInput, NotFound
from tracklet.server import mail
from tracklet.server.graphql.context import Info
from tracklet.server.graphql.ids import decode_id, encode_id
from tracklet.server.graphql.inputs import nonblank_str
from tracklet.storage import credentials, teams
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import teams as team_repo

log = logging.getLogger("tracklet.server")

query = QueryType()
mutation = MutationType()
project_type = ObjectType("Project")


def _refresh(ctx: Any) -> None:
    """Reload the caller's grants after a change to memberships, so the rest of this
    request (the mutation's answer) sees the new team."""
    ctx.user = credentials.with_grants(ctx.storage, ctx.user)


def _input(value: dict[str, Any] | None) -> dict[str, Any]:
    return value or {}


@mutation.field("createTeam")
def resolve_create_team(_: Any, info: Info,
                        input: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: A002
    ctx = info.context
    data = _input(input)
    name = nonblank_str(data, "team_name")
    if name is None:
        raise InvalidInput("teamName is required")
    entity = teams.create_team(ctx.storage, name, ctx.user,
                               admin=nonblank_str(data, "team_admin_user_name"))
    _refresh(ctx)
    return {"entity": entity}


@mutation.field("createUser")
def resolve_create_user(_: Any, info: Info,
                        input: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: A002
    """A new user named after the e-mail's local part (server admins only). Their key is
    not returned: the admin issues one with ``tracklet key create``."""
    ctx = info.context
    data = _input(input)
    email = nonblank_str(data, "email")
    if email is None or "@" not in email:
        raise InvalidInput("email is required")
    username = "".join(c if c.isalnum() or c in "-_." else "-" for c in email.split("@")[0])
    user, _key = teams.create_user(ctx.storage, username.strip("-.") or "user", ctx.user,
                                   email=email, admin=bool(data.get("admin")))
    return {"user": user}


def _find_invitee(ctx: Any, username: str | None, email: str | None) -> User:
    with ctx.storage.db.read() as conn:
        if username is not None:
            user = accounts.get_user_by_name(conn, username)
        else:
            found = [u for u in team_repo.list_users(conn, email, limit=10) if u.email == email]
            user = found[0] if found else None
    if user is None:
        raise NotFound(f"no user {(username or email)!r}: create the user first "
                       "(tracklet user create), then add them to the team")
    return user


@mutation.field("createInvite")
def resolve_create_invite(_: Any, info: Info,
                          input: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: A002
    """Add an existing user (by username or e-mail) to a team at once (an invite is accepted
    as it is made) and, when the server sends e-mail (``TRACKLET_SMTP_HOST``), tell them so
    at the address given or their own."""
    ctx = info.context
    data = _input(input)
    team = nonblank_str(data, "entity_name")
    if team is None:
        raise InvalidInput("entityName is required")
    user = _find_invitee(ctx, nonblank_str(data, "username"), nonblank_str(data, "email"))
    role = Role.ADMIN if data.get("admin") else Role.MEMBER
    teams.set_team_member(ctx.storage, team, user.username, role, ctx.user)
    address = nonblank_str(data, "email") or user.email
    if address and mail.configured(ctx.settings):
        _mail_invite(ctx, address, team, role, user)
    return {"invite": {"id": encode_id("User", user.id), "name": user.username,
                       "email": user.email, "createdAt": time.time(),
                       "toUser": {"name": user.username}}}


def _mail_invite(ctx: Any, address: str, team: str, role: Role, user: User) -> None:
    """The invite e-mail; a refused one is logged (the membership stands: the team shows it
    and the admin can tell the user another way)."""
    url = f"{ctx.base_url}/{team}"
    text = (f"{ctx.user.username} added you ({user.username}) to the team {team!r} on "
            f"tracklet as {role.value}.\n\nThe team: {url}\n"
            f"Sign in: {ctx.base_url}/login, or log runs to it with\n"
            f"    wandb login --host {ctx.base_url}\n"
            f"    wandb.init(entity={team!r}, project=...)\n")
    failed = mail.send(ctx.settings, address, f"You were added to {team} on tracklet", text)
    if failed is not None:
        log.warning("invite e-mail for %s to team %s not sent: %s", user.username, team,
                    failed)


@mutation.field("deleteInvite")
def resolve_delete_invite(_: Any, info: Info,
                          input: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: A002
    """Take a member out of a team (``Member.delete()``)."""
    ctx = info.context
    data = _input(input)
    team = nonblank_str(data, "entity_name")
    raw = nonblank_str(data, "id")
    if team is None or raw is None:
        raise InvalidInput("id and entityName are required")
    teams.delete_team_member_by_id(ctx.storage, team, decode_id("User", raw), ctx.user)
    return {"success": True}


@mutation.field("createServiceAccount")
def resolve_create_service_account(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    ctx = info.context
    data = _input(input)
    team = nonblank_str(data, "entity_name")
    if team is None:
        raise InvalidInput("entityName is required")
    user, _key = teams.create_service_account(ctx.storage, team, nonblank_str(data, "description"),
                                              ctx.user)
    return {"user": user}


@mutation.field("upsertModel")
def resolve_upsert_model(_: Any, info: Info,
                         input: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: A002
    """Create a project, or update its description and access (``api.create_project``)."""
    ctx = info.context
    data = _input(input)
    name = nonblank_str(data, "name")
    if name is None:
        raise InvalidInput("name is required")
    project, inserted = teams.upsert_project(
        ctx.storage, ctx.user, nonblank_str(data, "entity_name") or ctx.user.entity, name,
        description=nonblank_str(data, "description"), access=nonblank_str(data, "access"))
    return {"project": project, "model": project, "inserted": inserted}


@query.field("users")
def resolve_users(_: Any, info: Info, query: str | None = None) -> dict[str, Any]:
    """Users matching ``query`` (username or e-mail): any user for a server admin, else
    the caller and the members of their teams."""
    ctx = info.context
    with ctx.storage.db.read() as conn:
        found = team_repo.list_users(conn, query)
        if not ctx.user.admin:
            visible = {ctx.user.id}
            for team, _role in grants_of(ctx.user).roles:
                entity = accounts.get_entity(conn, team)
                visible.update(m.user.id for m in team_repo.team_members_of(conn, entity.id))
            found = [u for u in found if u.id in visible]
    return {"edges": [{"node": u} for u in found]}


@project_type.field("access")
def resolve_project_access(project: Project, *_: Any) -> str:
    visibility = Visibility.parse(project.access)
    return registry_access(visibility) if is_registry(project.name) else visibility.value


@project_type.field("entity")
def resolve_project_entity(project: Project, info: Info) -> Entity:
    # Once per entity and request: listings reach the same few entities many times.
    cache = info.context.cache
    key = f"entity:{project.entity_id}"
    if key not in cache:
        with info.context.storage.db.read() as conn:
            cache[key] = accounts.get_entity(conn, project.entity)
    entity: Entity = cache[key]
    return entity


def entity_members(entity: Entity, info: Info) -> list[dict[str, Any]]:
    """The members of an entity (a team's members, a user's own entity: the user), for
    anyone who may read it."""
    ctx = info.context
    if not can(ctx.user, Action.READ, entity.name):
        return []
    with ctx.storage.db.read() as conn:
        if entity.is_team:
            members = [(m.user, m.role) for m in team_repo.team_members_of(conn, entity.id)]
        else:
            owner = accounts.user_of_entity(conn, entity.id)
            members = [] if owner is None else [(owner, Role.ADMIN)]
    return [{"id": encode_id("User", u.id), "admin": role is Role.ADMIN, "pending": False,
             "email": u.email, "username": u.username, "name": u.username,
             "photoUrl": None, "accountType": "SERVICE" if u.service_account else "USER",
             "apiKey": None, "role": role.value} for u, role in members]


BINDABLES = [query, mutation, project_type]
