"""POST /graphql."""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tracklet.server.graphql import GraphQLContext, execute
from tracklet.server.rest.body import read_json
from tracklet.server.state import AppState


def base_url(request: Request, public_url: str) -> str:
    """The URL prefix clients reach this server on (for the URLs we hand out)."""
    if public_url:
        return public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


async def graphql(request: Request) -> Response:
    """Authenticate, then execute the GraphQL document in a worker thread."""
    state: AppState = request.app.state.tracklet
    user = await to_thread.run_sync(state.auth.authenticate, request)
    body = await read_json(request, state.settings.max_body_bytes)
    ctx = GraphQLContext(
        user=user,
        storage=state.storage,
        settings=state.settings,
        base_url=base_url(request, state.settings.public_url),
    )
    result, status = await to_thread.run_sync(execute, state.schema, body, ctx)
    return JSONResponse(result, status_code=status)
