"""``Project.allViews`` (``api.reports()``): the project's saved reports, of which tracklet
stores none until it has a report editor, so every page is empty."""

from __future__ import annotations

from typing import Any

from ariadne import ObjectType

from tracklet.domain.records import Project

project_type = ObjectType("Project")


@project_type.field("allViews")
def resolve_all_views(_project: Project, *_: Any, **_args: Any) -> dict[str, Any]:
    return {"edges": [], "pageInfo": {"endCursor": None, "hasNextPage": False}}


BINDABLES = [project_type]
