"""The HTTP status of GraphQL responses: 400 for requests that never ran, the domain status
when every root field failed, 200 otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLError, graphql_sync

from tracklet.errors import Conflict, NotFound, PermissionDenied, Unsupported
from tracklet.server.errors import graphql_status
from tracklet.server.graphql import build_schema


@pytest.mark.parametrize(
    ("result", "originals", "status"),
    [
        ({"data": {"a": 1}}, [], 200),
        ({"errors": [{"message": "Syntax Error"}]}, [None], 400),
        ({"data": None, "errors": [{}]}, [GraphQLError("String cannot represent")], 400),
        ({"data": {"a": None}, "errors": [{}]}, [NotFound("run x not found")], 404),
        ({"data": {"a": None}, "errors": [{}]}, [PermissionDenied("no")], 403),
        ({"data": {"a": None}, "errors": [{}]}, [Unsupported("fork")], 400),
        ({"data": {"a": None}, "errors": [{}]}, [Conflict("exists")], 400),
        ({"data": None, "errors": [{}]}, [NotFound("x")], 404),
        ({"data": {"a": 1, "b": None}, "errors": [{}]}, [NotFound("x")], 200),
        ({"data": {"a": None}, "errors": [{}]}, [RuntimeError("bug")], 200),
        ({"data": {"a": None, "b": None}, "errors": [{}, {}]}, [NotFound("x"), None], 200),
    ],
)
def test_graphql_status(result: dict[str, Any], originals: list[Any], status: int) -> None:
    assert graphql_status(result, originals) == status



def test_unimplemented_mutation_is_a_clear_error() -> None:
    # Launch queues are a W&B feature tracklet has no plans for; the client schema has them.
    result = graphql_sync(build_schema(), "mutation { ackRunQueueItem { __typename } }")
    assert result.errors
    assert result.errors[0].message == "ackRunQueueItem is not supported by this tracklet server"
