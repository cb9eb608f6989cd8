"""Viewer, users, entities and server info."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, ObjectType, QueryType

from tracklet import __version__
from tracklet.domain import compat
from tracklet.domain.policy import Action, can, require
from tracklet.domain.records import User
from tracklet.server.graphql.context import Info
from tracklet.server.graphql.ids import decode_id, encode_id
from tracklet.server.graphql.resolvers import registries, teams
from tracklet.storage import credentials
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import teams as team_repo

query = QueryType()
mutation = MutationType()
user_type = ObjectType("User")
entity_type = ObjectType("Entity")

# Flags this server answers true; everything else the SDK asks about is off (see PROTOCOL §4).
ENABLED_FEATURES = ("LARGE_FILENAMES", "MARK_RUN_FILES_UPLOADED", "FILESTREAM_GZIP",
                    "UPDATE_RUN_STATE", "ARTIFACT_REGISTRY_SEARCH",
                    "INCLUDE_ARTIFACT_TYPES_IN_REGISTRY_CREATION",
                    # ArtifactCollectionMembership.files counts the matching files (SDK: len()).
                    "TOTAL_COUNT_IN_FILE_CONNECTION")


@query.field("viewer")
def resolve_viewer(_: Any, info: Info) -> User:
    return info.context.user


@query.field("serverInfo")
def resolve_server_info(*_: Any) -> dict[str, Any]:
    return {
        "features": [{"name": n, "isEnabled": True} for n in ENABLED_FEATURES],
        "latestLocalVersionInfo": compat.local_version_info(__version__),
        "cliVersionInfo": compat.cli_version_info(),
    }


@query.field("entity")
def resolve_entity(_: Any, info: Info, name: str | None = None) -> Any:
    ctx = info.context
    name = name or ctx.user.entity
    require(ctx.user, Action.READ, name)
    with ctx.storage.db.read() as conn:
        return accounts.get_entity(conn, name)


@user_type.field("id")
def resolve_user_id(user: User, *_: Any) -> str:
    return encode_id("User", user.id)


@user_type.field("name")
def resolve_user_name(user: User, *_: Any) -> str:
    return user.username


@user_type.field("flags")
def resolve_user_flags(*_: Any) -> str:
    return "{}"


@user_type.field("teams")
def resolve_user_teams(user: User, info: Info) -> dict[str, Any]:
    """The user's own entity, then the teams they belong to that the caller may read."""
    ctx = info.context
    # Entity records, as every Entity field resolver reads them (a dict has no is_team).
    with ctx.storage.db.read() as conn:
        entities = [accounts.get_entity(conn, user.entity)]
        entities += [e for e, _role in team_repo.teams_of(conn, user.id)]
    return {"edges": [{"node": e} for e in entities if can(ctx.user, Action.READ, e.name)]}


@user_type.field("organizations")
def resolve_user_orgs(user: User, info: Info) -> list[dict[str, Any]]:
    """The organizations the user belongs to, directly or through a team (the caller's
    own; anyone's for a server admin)."""
    ctx = info.context
    if not (ctx.user.admin or ctx.user.id == user.id):
        return []
    with ctx.storage.db.read() as conn:
        orgs = team_repo.orgs_of_user(conn, user.id)
    return [registries.org_node(o) for o in orgs]


@user_type.field("apiKeys")
def resolve_user_api_keys(user: User, info: Info) -> dict[str, Any]:
    ctx = info.context
    # Only the caller's own keys (or an admin looking at anyone's) are listed.
    if not (ctx.user.admin or ctx.user.id == user.id):
        return {"edges": []}
    with ctx.storage.db.read() as conn:
        keys = accounts.list_api_keys(conn, user.id)
    return {"edges": [{"node": {"id": encode_id("ApiKey", pk), "name": name,
                                "description": None}} for pk, name in keys]}


@mutation.field("generateApiKey")
def resolve_generate_api_key(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    """A new key for the caller. As on W&B, ``name`` is the key itself (the SDK's
    ``User.generate_api_key`` returns it), in this answer only; the key is listed under
    its ``description``, or its non-secret prefix."""
    ctx = info.context
    description = (input or {}).get("description")
    pk, key = credentials.generate_api_key(ctx.storage, ctx.user, description)
    return {"apiKey": {"id": encode_id("ApiKey", pk), "name": key,
                       "description": description}}


@mutation.field("deleteApiKey")
def resolve_delete_api_key(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    """Revoke a key by id: the caller's own, or anyone's for an admin."""
    ctx = info.context
    credentials.revoke_key_as(ctx.storage, ctx.user,
                              decode_id("ApiKey", str((input or {}).get("id") or "")))
    return {"success": True}


@entity_type.field("id")
def resolve_entity_id(entity: Any, *_: Any) -> str:
    return encode_id("Entity", entity.id)


@entity_type.field("organization")
def resolve_entity_org(entity: Any, info: Info) -> dict[str, Any] | None:
    if getattr(entity, "org_id", None) is None:
        return None
    with info.context.storage.db.read() as conn:
        org = team_repo.org_by_id(conn, entity.org_id)
    return registries.org_node(org)


@entity_type.field("isTeam")
def resolve_entity_is_team(entity: Any, *_: Any) -> bool:
    return bool(entity.is_team)


@entity_type.field("members")
def resolve_entity_members(entity: Any, info: Info) -> list[dict[str, Any]]:
    return teams.entity_members(entity, info)


for _field, _value in {
    "codeSavingEnabled": True,
    "defaultAccess": "PRIVATE",
    "privateOnly": False,
    "readOnlyAdmin": False,
    "storageBytes": 0,
    "readOnly": False,
    "isPaid": False,
}.items():
    entity_type.set_field(_field, lambda *_a, _v=_value: _v)

BINDABLES = [query, mutation, user_type, entity_type]
