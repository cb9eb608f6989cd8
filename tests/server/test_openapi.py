"""The OpenAPI description of the REST routes covers every route and method, and loads in
schemathesis without an invalid operation (the fuzz campaign drives it: test_fuzz.py)."""

from __future__ import annotations

import schemathesis
from schemathesis.core.result import Ok

from tracklet.server.access import Access, AccessRoute
from tracklet.server.openapi import BODIES, QUERY, describe, openapi_path
from tracklet.server.routes import ROUTES


def test_every_route_and_method_is_described() -> None:
    paths = describe()["paths"]
    routes = [r for r in ROUTES if isinstance(r, AccessRoute)]
    expected = {(openapi_path(r), m.lower()) for r in routes for m in r.methods or ()}
    assert {(p, m) for p, ops in paths.items() for m in ops} == expected
    # The tables name routes that exist (a renamed route fails here, not silently).
    assert set(QUERY) | set(BODIES) <= set(paths)
    for route in routes:
        for method in route.methods or ():
            operation = paths[openapi_path(route)][method.lower()]
            names = {p["name"] for p in operation["parameters"]}
            assert set(route.param_convertors) <= names
            if route.access is Access.SIGNED_URL:
                assert "t" in names and operation["security"] == []


def test_schemathesis_loads_every_operation() -> None:
    schema = schemathesis.openapi.from_dict(describe())
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), [r for r in results if not isinstance(r, Ok)]
    assert len(results) == sum(len(ops) for ops in describe()["paths"].values())
