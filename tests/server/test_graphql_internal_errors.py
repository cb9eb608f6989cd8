"""Regression (issue 17, finding 8): unexpected exceptions in resolvers reach clients as a
generic message carrying a request id (logged with the traceback), never as Python text;
arguments that do not fit a resolver are the caller's validation error."""

from __future__ import annotations

import base64
import logging
import re
from unittest import mock

import pytest

from tests.support.app import InProcessApp
from tracklet.server.errors import resolver_error
from tracklet.storage.metadata import accounts


def test_internal_error_is_generic_and_logged_with_its_request_id(
        app: InProcessApp, caplog: pytest.LogCaptureFixture) -> None:
    boom = RuntimeError("secret detail: /srv/tracklet/db password=hunter2")
    with mock.patch.object(accounts, "get_entity", side_effect=boom), \
            caplog.at_level(logging.ERROR, logger="tracklet.graphql"):
        response = app.client.post("/graphql", json={
            "query": '{ entity(name: "admin") { id } }'})
    body = response.json()
    assert response.status_code == 200  # GraphQL's own error channel: the SDK never retries
    message = body["errors"][0]["message"]
    assert "secret" not in response.text and "RuntimeError" not in response.text
    found = re.fullmatch(r"internal server error \(request id ([0-9a-f]{16})\)", message)
    assert found, message
    request_id = found.group(1)
    assert body["errors"][0]["extensions"]["requestId"] == request_id
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None and logged[0].exc_info[1] is boom


def test_missing_argument_is_a_validation_error(app: InProcessApp) -> None:
    response = app.client.post("/graphql", json={
        "query": "mutation { createArtifact { artifact { id } } }"})
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert message == "invalid arguments: missing 1 required argument: 'input'"
    assert "resolve_" not in response.text


def test_out_of_range_ids_are_invalid_input(app: InProcessApp) -> None:
    for kind, field in [("Artifact", '{ artifact(id: "%s") { id } }'),
                        ("ArtifactSequence", 'mutation { updateArtifactSequence(input: '
                         '{artifactSequenceID: "%s"}) { __typename } }')]:
        big = base64.b64encode(f"{kind}:{'9' * 30}".encode()).decode()
        response = app.client.post("/graphql", json={"query": field % big})
        assert response.status_code == 400, response.text
        assert re.match(r"invalid [A-Za-z ]+ id ", response.json()["errors"][0]["message"])
        assert "SQLite" not in response.text


def test_entity_fields_resolve_on_teams(app: InProcessApp) -> None:
    body = app.graphql("{ viewer { teams { edges { node { id name isTeam } } } } }")
    assert "errors" not in body, body
    node = body["data"]["viewer"]["teams"]["edges"][0]["node"]
    assert node["name"] == "admin" and node["isTeam"] is False


def test_only_call_site_type_errors_are_argument_errors() -> None:
    def resolver(value: int) -> int:
        return value + "x"  # type: ignore[operator,return-value]

    try:
        resolver(1)
    except TypeError as exc:
        assert resolver_error(exc) is exc  # raised inside: a bug, not the caller's input
    overflow = OverflowError("Python int too large to convert to SQLite INTEGER")
    assert "out of range" in str(resolver_error(overflow))
