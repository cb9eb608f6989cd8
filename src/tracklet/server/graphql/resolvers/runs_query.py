"""Listing: ``project.runs`` / ``runCount`` with filters and orders, ``models`` (projects)."""

from __future__ import annotations

from typing import Any

from ariadne import ObjectType, QueryType

from tracklet.domain.policy import Action, can, require
from tracklet.domain.records import Project, User
from tracklet.errors import InvalidInput
from tracklet.server.graphql.context import Info, context_of
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata.run_query import count_runs, list_runs

query = QueryType()
project_type = ObjectType("Project")

_MAX_PROJECTS_PAGE = 1000


def _first(value: int | None, default: int) -> int:
    if value is None:
        return default
    if value < 0:
        raise InvalidInput("first must not be negative")
    return value


@project_type.field("runs")
def resolve_project_runs(
    project: Project,
    info: Info,
    filters: str | None = None,
    after: str | None = None,
    first: int | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    ctx = context_of(info)
    require(ctx.user, Action.READ, project.entity, project.name)
    limit = _first(first, 50)
    if limit == 0:
        # No page can make progress; saying "more" would send a client round forever.
        return {"edges": [], "pageInfo": {"endCursor": after, "hasNextPage": False}}
    with ctx.storage.db.read() as conn:
        page = list_runs(conn, project.id, filters, order, after, limit, memo=ctx.cache,
                         listings=ctx.storage.run_listings,
                         timeout_s=ctx.settings.run_filter_timeout_s)
    edges = [{"node": run, "cursor": cursor} for run, cursor in zip(page.runs, page.cursors,
                                                                     strict=True)]
    return {
        "edges": edges,
        "pageInfo": {"endCursor": page.cursors[-1] if page.cursors else after,
                     "hasNextPage": page.has_next},
    }


@project_type.field("runCount")
def resolve_project_run_count(project: Project, info: Info, filters: str | None = None) -> int:
    ctx = context_of(info)
    require(ctx.user, Action.READ, project.entity, project.name)
    with ctx.storage.db.read() as conn:
        return count_runs(conn, project.id, filters, memo=ctx.cache,
                          listings=ctx.storage.run_listings,
                          timeout_s=ctx.settings.run_filter_timeout_s)


@project_type.field("user")
def resolve_project_user(project: Project, info: Info) -> User | None:
    with context_of(info).storage.db.read() as conn:
        return accounts.user_of_entity(conn, project.entity_id)


@project_type.field("updatedAt")
def resolve_project_updated_at(project: Project, *_: Any) -> float:
    return project.updated_at


@query.field("models")
def resolve_models(
    _: Any,
    info: Info,
    entity_name: str | None = None,
    after: str | None = None,
    first: int | None = None,
) -> dict[str, Any]:
    ctx = context_of(info)
    entity = entity_name or ctx.user.entity
    require(ctx.user, Action.READ, entity)
    limit = min(_first(first, 50), _MAX_PROJECTS_PAGE)
    after_id: int | None = None
    if after:
        if not after.isdigit():
            raise InvalidInput("invalid cursor")
        after_id = int(after)
    with ctx.storage.db.read() as conn:
        rows = accounts.list_projects(conn, entity, after_id, limit + 1)
    page = rows[:limit]
    return {
        # A PRIVATE project is left out for those who may not read it (the page may then
        # hold fewer than ``first``; the cursor still moves on).
        "edges": [{"node": p, "cursor": str(p.id)} for p in page
                  if can(ctx.user, Action.READ, p.entity, p.name)],
        "pageInfo": {"endCursor": str(page[-1].id) if page else after,
                     "hasNextPage": len(rows) > limit},
    }


BINDABLES = [query, project_type]
