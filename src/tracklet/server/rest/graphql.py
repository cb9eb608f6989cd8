"""POST /graphql."""

from __future__ import annotations

import json
from typing import Any

import orjson
from anyio import to_thread
from graphql import GraphQLSchema
from starlette.requests import Request
from starlette.responses import Response

from tracklet.server.access import request_user
from tracklet.server.graphql import GraphQLContext, execute
from tracklet.server.rest.body import read_json
from tracklet.server.state import AppState


def base_url(request: Request, public_url: str) -> str:
    """The URL prefix clients reach this server on (for the URLs we hand out)."""
    if public_url:
        return public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


async def graphql(request: Request) -> Response:
    """Execute the GraphQL document in a worker thread, as the authenticated user."""
    state: AppState = request.app.state.tracklet
    body = await read_json(request, state.settings.max_body_bytes)
    ctx = GraphQLContext(
        user=request_user(request),
        storage=state.storage,
        settings=state.settings,
        base_url=base_url(request, state.settings.public_url),
    )
    with state.graphql_slots.slot(ctx.user.id):
        content, status = await to_thread.run_sync(_execute, state.schema, body, ctx)
    return Response(content, status_code=status, media_type="application/json")


def _execute(schema: GraphQLSchema, body: Any, ctx: GraphQLContext) -> tuple[bytes, int]:
    """Execute and render the answer in the worker thread: a 1,000-row history page is
    hundreds of kilobytes of JSON, which must not be encoded on the event loop."""
    result, status = execute(schema, body, ctx)
    return render(result), status


def render(result: Any) -> bytes:
    """The answer as compact JSON: orjson, or the standard library for what orjson refuses
    (integers beyond 64 bits). Non-finite floats never reach here: GraphQL's Float rejects
    them and the JSON scalars carry them as strings (see ``rows.json_safe``)."""
    try:
        return orjson.dumps(result)
    except TypeError:
        return json.dumps(result, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":")).encode("utf-8")
