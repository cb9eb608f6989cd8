"""A W&B field, argument or mutation tracklet lacks answers an error naming it and saying it
is not supported here (the SDK shows GraphQL error messages to the user)."""

from __future__ import annotations

from typing import Any

from tests.support.app import InProcessApp
from tracklet.server.graphql import UNSUPPORTED_NOTE


def _errors(app: InProcessApp, query: str) -> list[dict[str, Any]]:
    response = app.client.post("/graphql", json={"query": query})
    assert response.status_code == 400, response.text
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


def test_unknown_fields_and_arguments_say_they_are_not_supported(app: InProcessApp) -> None:
    message = _errors(app, '{ project(name: "p") { runQueues { id } } }')[0]["message"]
    assert "Cannot query field 'runQueues' on type 'Project'" in message
    assert message.endswith(UNSUPPORTED_NOTE)
    errors = _errors(app, '{ viewer { username(format: "x") } }')
    assert errors[0]["message"].endswith(UNSUPPORTED_NOTE)
    # Other validation errors are answered as they are.
    assert UNSUPPORTED_NOTE not in _errors(app, "{ viewer { username ")[0]["message"]


def test_unimplemented_mutations_name_themselves(app: InProcessApp) -> None:
    assert _errors(app, "mutation { deleteModel(input: {}) { success } }")[0]["message"] == (
        "deleteModel is not supported by this tracklet server")
