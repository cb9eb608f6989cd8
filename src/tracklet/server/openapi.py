"""An OpenAPI 3.0 description of the REST routes, built from ``routes.ROUTES``.

Every route and method is described (path parameters, how it is authorised, the query
parameters and JSON bodies its handler reads); what a route answers is left open, as most
answer formats are the SDK's. ``tests/server/test_openapi.py`` and the fuzz campaign
(``benchmarks/fuzz_rest.py``) drive schemathesis over it against the app.
"""

from __future__ import annotations

import re
from typing import Any

from tracklet.server.access import Access, AccessRoute
from tracklet.server.routes import ROUTES

_STRING: dict[str, Any] = {"type": "string"}
_INT: dict[str, Any] = {"type": "integer"}
_STEP = {"min_step": _INT, "max_step": _INT}

#: The query parameters each handler reads (beyond a signed URL's ``t``).
QUERY: dict[str, dict[str, dict[str, Any]]] = {
    "/api/v1/runs/series": {"runs": _STRING, "keys": _STRING, "buckets": _INT, "x": _STRING,
                            "fields": _STRING, **_STEP},
    "/api/v1/runs/history": {"run": _STRING, "keys": _STRING,
                             "format": {"type": "string", "enum": ["arrow", "json"]}, **_STEP},
    "/api/v1/runs/console": {"run": _STRING, "after": _INT, "limit": _INT, "q": _STRING},
    "/api/v1/audit": {"limit": _INT, "before": _INT},
}

#: The JSON bodies the handlers read.
BODIES: dict[str, dict[str, Any]] = {
    "/graphql": {"type": "object", "required": ["query"], "properties": {
        "query": _STRING, "variables": {"type": "object"}, "operationName": _STRING}},
    "/files/{entity}/{project}/{run}/file_stream": {"type": "object", "properties": {
        "files": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "offset": _INT, "content": {"type": "array", "items": _STRING}}}},
        "complete": {"type": "boolean"}, "exitcode": _INT, "preempting": {"type": "boolean"},
        "uploaded": {"type": "array", "items": _STRING}}},
    "/api/v1/query": {"type": "object", "required": ["sql"], "properties": {
        "sql": _STRING, "format": {"type": "string", "enum": ["json", "arrow"]},
        "max_rows": _INT, "scope": _STRING}},
    "/api/v1/auth/login": {"type": "object", "properties": {
        "username": _STRING, "password": _STRING, "api_key": _STRING}},
    "/api/v1/auth/keys": {"type": "object", "required": ["name"],
                          "properties": {"name": _STRING}},
}

_CONVERTED = re.compile(r"\{(\w+):\w+\}")


def openapi_path(route: AccessRoute) -> str:
    """The route's path in OpenAPI form (``{name:path}`` becomes ``{name}``)."""
    return _CONVERTED.sub(r"{\1}", route.path)


def _operation(route: AccessRoute, method: str) -> dict[str, Any]:
    path = openapi_path(route)
    parameters = [{"name": name, "in": "path", "required": True, "schema": _STRING}
                  for name in route.param_convertors]
    parameters += [{"name": name, "in": "query", "required": False, "schema": schema}
                   for name, schema in QUERY.get(path, {}).items()]
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()} {path}",
        "responses": {"default": {"description": "the handler's answer"}},
    }
    if route.access is Access.SIGNED_URL:
        parameters.append({"name": "t", "in": "query", "required": True, "schema": _STRING,
                           "description": f"a signed token of kind {route.token!r}"})
        operation["security"] = []
    elif route.access is Access.PUBLIC:
        operation["security"] = []
    if method in ("POST", "PUT"):
        if path in BODIES:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": BODIES[path]}}}
        elif route.access is Access.SIGNED_URL:
            operation["requestBody"] = {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string",
                                                        "format": "binary"}}}}
    operation["parameters"] = parameters
    return operation


def describe() -> dict[str, Any]:
    """The OpenAPI document of every route in ``ROUTES`` (HEAD included where served)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        if not isinstance(route, AccessRoute):
            continue
        for method in sorted(route.methods or ()):
            paths.setdefault(openapi_path(route), {})[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.0.3",
        "info": {"title": "tracklet REST routes", "version": "1"},
        "paths": paths,
        "components": {"securitySchemes": {
            "apiKey": {"type": "http", "scheme": "basic",
                       "description": "user `api`, password: the API key"},
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "tracklet_session"}}},
        "security": [{"apiKey": []}, {"bearer": []}, {"session": []}],
    }
