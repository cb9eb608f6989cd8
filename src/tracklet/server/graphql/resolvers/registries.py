"""The W&B Registry as the SDK reads it: ``organization(name) { orgEntity { projects } }``
(``api.registries()``), ``entity(name) { project(name) }`` (``api.registry``), an entity's
projects with the SDK's filters, and the organizations behind a personal entity (how the
SDK finds the organization entity of ``wandb-registry-*`` paths). What a caller sees is
decided by ``domain.policy`` (see ``domain.registry`` for how registry visibility maps
onto it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson
from ariadne import ObjectType, QueryType

from tracklet.domain.policy import Action, can
from tracklet.domain.records import Entity, Project
from tracklet.errors import InvalidInput
from tracklet.server.graphql.context import Info
from tracklet.server.graphql.ids import encode_id
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import artifacts as art_repo
from tracklet.storage.metadata import teams as team_repo
from tracklet.storage.metadata.regex import check_pattern, sqlite_regexp
from tracklet.storage.metadata.teams import Organization

query = QueryType()
organization_type = ObjectType("Organization")
entity_type = ObjectType("Entity")

_MAX_PAGE = 500
_MAX_FILTER_DEPTH = 8


def org_node(org: Organization) -> dict[str, Any]:
    """The GraphQL value of an organization."""
    return {"id": encode_id("Organization", org.id), "name": org.name, "org_id": org.id}


@query.field("organization")
def resolve_organization(_: Any, info: Info, name: str | None = None) -> dict[str, Any] | None:
    """An organization the caller belongs to (any, for a server admin); None otherwise, as
    for one that does not exist."""
    ctx = info.context
    if not name:
        return None
    with ctx.storage.db.read() as conn:
        if ctx.user.admin:
            found = [o for o in team_repo.list_orgs(conn) if o.name == name]
        else:
            found = [o for o in team_repo.orgs_of_user(conn, ctx.user.id) if o.name == name]
    return org_node(found[0]) if found else None


@organization_type.field("orgEntity")
def resolve_org_entity(org: dict[str, Any], info: Info) -> Entity | None:
    ctx = info.context
    with ctx.storage.db.read() as conn:
        entity = team_repo.org_entity_of(conn, team_repo.org_by_id(conn, org["org_id"]))
    if entity is None or not can(ctx.user, Action.READ, entity.name):
        return None
    return entity


@entity_type.field("entityType")
def resolve_entity_type(entity: Entity, info: Info) -> str:
    """``organization`` for an organization's own entity, else ``team`` or ``user``."""
    if not entity.is_team:
        return "user"
    if entity.org_id is None:
        return "team"
    with info.context.storage.db.read() as conn:
        org = team_repo.org_by_id(conn, entity.org_id)
    return "organization" if org.name == entity.name else "team"


@entity_type.field("user")
def resolve_entity_user(entity: Entity, info: Info) -> Any:
    """The user owning a personal entity (None for a team), for those who may read it."""
    ctx = info.context
    if entity.is_team or not can(ctx.user, Action.READ, entity.name):
        return None
    with ctx.storage.db.read() as conn:
        return accounts.user_of_entity(conn, entity.id)


@entity_type.field("project")
def resolve_entity_project(entity: Entity, info: Info, name: str | None = None
                           ) -> Project | None:
    """One project of the entity; None when missing or when the caller may not read it."""
    ctx = info.context
    if not name:
        return None
    with ctx.storage.db.read() as conn:
        project = accounts.find_project(conn, entity.name, name)
    if project is None or not can(ctx.user, Action.READ, entity.name, project.name):
        return None
    return project


@entity_type.field("projects")
def resolve_entity_projects(entity: Entity, info: Info, after: str | None = None,
                            filters: Any = None, first: int | None = None,
                            order: str | None = None) -> dict[str, Any]:
    """The entity's projects the caller may read, filtered (``name``, ``description``,
    ``id``; ``$eq``, ``$ne``, ``$in``, ``$regex``, ``$and``, ``$or``), ordered and paged
    by position."""
    ctx = info.context
    if not can(ctx.user, Action.READ, entity.name):
        return {"edges": [], "pageInfo": {"endCursor": None, "hasNextPage": False}}
    condition = _parse_filters(filters)
    with ctx.storage.db.read() as conn:
        found = accounts.list_projects(conn, entity.name, None, 100_000)
    readable = [p for p in found if can(ctx.user, Action.READ, p.entity, p.name)
                and _matches(p, condition, _FIELDS, 0)]
    return _page(_ordered(readable, order), after, first)


@entity_type.field("artifactCollections")
def resolve_entity_collections(entity: Entity, info: Info, after: str | None = None,
                               filters: Any = None, first: int | None = None,
                               order: str | None = None, project_filters: Any = None,
                               collection_types: list[str] | None = None) -> dict[str, Any]:
    """The collections of the entity's projects the caller may read (what
    ``api.registries().collections()`` lists): projects chosen by ``projectFilters``,
    collections by ``filters`` (``name``, ``description``) and ``collectionTypes``."""
    kinds = set(collection_types) if collection_types else None
    found = _ordered(_collections(info, entity, project_filters, filters, kinds), order)
    return {**_page(found, after, first), "totalCount": len(found)}


@entity_type.field("artifactMemberships")
def resolve_entity_memberships(entity: Entity, info: Info, after: str | None = None,
                               filters: Any = None, first: int | None = None,
                               order: str | None = None, project_filters: Any = None,
                               collection_filters: Any = None) -> dict[str, Any]:
    """The versions linked into the entity's portfolios the caller may read, newest first
    per collection (what ``api.registries().versions()`` lists), filtered by ``filters``
    on the fields of the SDK's basic search (see :data:`_VERSION_FIELDS`)."""
    condition = _parse_filters(filters)
    if order:
        raise InvalidInput("ordering registry versions is not supported by this server")
    collections = _collections(info, entity, project_filters, collection_filters,
                               {"PORTFOLIO"})
    members: list[Any] = []
    with info.context.storage.db.read() as conn:
        for collection in collections:
            members += [m for m in art_repo.list_members(conn, collection, None, 100_000)
                        if _matches(m, condition, _VERSION_FIELDS, 0)]
    return _page(members, after, first)


def _collections(info: Info, entity: Entity, project_filters: Any, filters: Any,
                 kinds: set[str] | None) -> list[Any]:
    """The collections of ``entity``'s readable projects matching the filters."""
    ctx = info.context
    if not can(ctx.user, Action.READ, entity.name):
        return []
    project_condition = _parse_filters(project_filters)
    condition = _parse_filters(filters)
    found: list[Any] = []
    with ctx.storage.db.read() as conn:
        for project in accounts.list_projects(conn, entity.name, None, 100_000):
            if not (can(ctx.user, Action.READ, project.entity, project.name)
                    and _matches(project, project_condition, _FIELDS, 0)):
                continue
            found += [c for c in art_repo.list_collections(conn, project.id, None, None,
                                                            100_000)
                      if (kinds is None or c.kind.value in kinds)
                      and _matches(c, condition, _COLLECTION_FIELDS, 0)]
    return found


def _page(found: list[Any], after: str | None, first: int | None) -> dict[str, Any]:
    start = _cursor(after)
    limit = min(max(first if first is not None else 100, 0), _MAX_PAGE)
    page = found[start:start + limit]
    end = start + len(page)
    return {"edges": [{"node": p, "cursor": str(start + i + 1)} for i, p in enumerate(page)],
            "pageInfo": {"endCursor": str(end) if page else after,
                         "hasNextPage": end < len(found)}}


def _cursor(after: str | None) -> int:
    if not after:
        return 0
    if not after.isdigit() or len(after) > 9:
        raise InvalidInput("invalid cursor")
    return int(after)


def _parse_filters(filters: Any) -> dict[str, Any]:
    if filters is None or filters == "":
        return {}
    if isinstance(filters, str):
        try:
            filters = orjson.loads(filters)
        except orjson.JSONDecodeError:
            raise InvalidInput("filters must be a JSON object") from None
    if not isinstance(filters, dict):
        raise InvalidInput("filters must be a JSON object")
    return filters


_Getters = dict[str, Callable[[Any], Any]]
_FIELDS: _Getters = {"name": lambda p: p.name, "description": lambda p: p.description,
                     "id": lambda p: p.id}
_COLLECTION_FIELDS: _Getters = {"name": lambda c: c.name,
                                "description": lambda c: c.description}




def _iso(ts: float) -> str:
    """A timestamp as the SDK writes dates in filters (ISO 8601, UTC), so that comparing
    the strings compares the times."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _metadata(m: Any, path: str) -> Any:
    """``metadata.a.b``: the value at that path of the version's metadata (None if none)."""
    try:
        value: Any = orjson.loads(m.artifact.metadata or "{}")
    except orjson.JSONDecodeError:
        return None
    for part in path.split(".") if path else ():
        value = value.get(part) if isinstance(value, dict) else None
    return value


#: Version filters: what ``versions(filter=...)`` may name (the SDK's basic search
#: fields). ``alias`` and ``tag`` match when any of the version's do; ``version`` is
#: ``"v3"``; ``metadata.<path>`` reads the version's metadata; dates compare as ISO text.
_VERSION_FIELDS: _Getters = {
    "id": lambda m: encode_id("Artifact", m.artifact.id),
    "version": lambda m: f"v{m.version_index}",
    "alias": lambda m: [a.alias for a in m.aliases],
    "tag": lambda m: list(m.artifact.tags),
    "metadata": lambda m: _metadata(m, ""),
    "created_at": lambda m: _iso(m.artifact.created_at),
    "updated_at": lambda m: _iso(m.artifact.updated_at),
}
#: Fields named with a dotted path below them (``metadata.epochs``).
_PATH_FIELDS: dict[str, Callable[[Any, str], Any]] = {"metadata": _metadata}


def _matches(obj: Any, condition: dict[str, Any], fields: _Getters, depth: int) -> bool:
    if depth > _MAX_FILTER_DEPTH:
        raise InvalidInput(f"filters nest deeper than {_MAX_FILTER_DEPTH} levels")
    for key, operand in condition.items():
        if key in ("$and", "$or"):
            if not isinstance(operand, list):
                raise InvalidInput(f"{key} takes a list of filters")
            parts = [_matches(obj, _parse_filters(c), fields, depth + 1) for c in operand]
            if not (all(parts) if key == "$and" else any(parts)):
                return False
        elif key in fields:
            if not _compare(fields[key](obj), operand):
                return False
        elif (root := key.partition(".")[0]) in fields and root in _PATH_FIELDS \
                and key.partition(".")[2]:
            if not _compare(_PATH_FIELDS[root](obj, key.partition(".")[2]), operand):
                return False
        else:
            raise InvalidInput(f"cannot filter on {key!r}; use {', '.join(sorted(fields))}")
    return True


_ORDERING = {"$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
             "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b}
_NEGATED = {"$ne", "$nin"}


def _compare(value: Any, operand: Any) -> bool:
    """Whether ``value`` meets ``operand`` (a value, or ``{"$op": arg, ...}``). A list
    value (aliases, tags) meets it when one of its items does (for ``$ne``/``$nin``: when
    every item does)."""
    if isinstance(value, list):
        ops = operand.keys() if isinstance(operand, dict) else ()
        test = all if any(op in _NEGATED for op in ops) else any
        return test(_compare(item, operand) for item in value)
    if not isinstance(operand, dict):
        return bool(value == operand)
    for op, arg in operand.items():
        if op == "$eq":
            ok = value == arg
        elif op == "$ne":
            ok = value != arg
        elif op in ("$in", "$nin"):
            if not isinstance(arg, list):
                raise InvalidInput(f"{op} takes a list")
            ok = (value in arg) == (op == "$in")
        elif op == "$regex":
            if not isinstance(arg, str):
                raise InvalidInput("$regex takes a string")
            ok = isinstance(value, str) and bool(sqlite_regexp(check_pattern(arg), value))
        elif op in _ORDERING:
            if isinstance(arg, (dict, list, bool)):
                raise InvalidInput(f"{op} takes a number or a string")
            try:
                ok = value is not None and bool(_ORDERING[op](value, arg))
            except TypeError:  # a number against text: no match, as a query would say
                ok = False
        else:
            raise InvalidInput(f"unsupported filter operator {op!r}")
        if not ok:
            return False
    return True


_ORDER_KEYS = {"name": lambda p: p.name, "createdAt": lambda p: p.created_at,
               "created_at": lambda p: p.created_at, "updatedAt": lambda p: p.updated_at,
               "updated_at": lambda p: p.updated_at, "id": lambda p: p.id}
_ORDER = re.compile(r"^[+-]?[A-Za-z_]+$")


def _ordered(found: list[Any], order: str | None) -> list[Any]:
    if not order:
        return found
    if not _ORDER.match(order) or order.lstrip("+-") not in _ORDER_KEYS:
        raise InvalidInput(f"cannot order by {order!r}; "
                           f"use {', '.join(sorted(_ORDER_KEYS))}")
    key = _ORDER_KEYS[order.lstrip("+-")]
    return sorted(found, key=key, reverse=order.startswith("-"))


BINDABLES = [query, organization_type, entity_type]
