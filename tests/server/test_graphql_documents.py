"""Parsed and validated documents are cached per schema, so per app, never per process."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

from graphql import DocumentNode

from tests.support.app import in_process_app
from tracklet.config import Settings
from tracklet.server.graphql import build_schema, documents
from tracklet.server.graphql.documents import DocumentCache, documents_of

VIEWER = "{ viewer { username } }"
BAD = "{ viewer { noSuchField } }"


def _parse(cache: DocumentCache, text: str) -> DocumentNode:
    return cache.parse(None, {"query": text})


def test_parse_and_validate_once_per_schema() -> None:
    schema = build_schema()
    cache = documents_of(schema)
    assert documents_of(schema) is cache
    document = _parse(cache, VIEWER)
    assert _parse(cache, VIEWER) is document
    with mock.patch.object(documents, "validate", wraps=documents.validate) as validate:
        assert cache.validate(schema, document) == []
        assert cache.validate(schema, document) == []
        # Two passes per valid document, once: the cost limits, then the standard rules.
        assert validate.call_count == 2
        # An invalid one is refused and forgotten: parsed and validated again next time.
        size = len(cache)
        bad = _parse(cache, BAD)
        assert len(cache) == size + 1
        first = cache.validate(schema, bad)
        assert first and len(cache) == size
        assert _parse(cache, BAD) is not bad
        assert validate.call_count == 4
        # Another schema has a cache of its own, and a result is never reused across schemas.
        other = build_schema()
        assert documents_of(other) is not cache
        assert _parse(documents_of(other), VIEWER) is not document
        assert cache.validate(other, document) == []
        assert validate.call_count == 6


def test_a_document_over_a_limit_is_refused_before_the_other_rules() -> None:
    schema = build_schema()
    cache = documents_of(schema)
    aliased = "{ " + " ".join(f"a{i}: viewer {{ noSuchField }}" for i in range(30)) + " }"
    with mock.patch.object(documents, "validate", wraps=documents.validate) as validate:
        errors = cache.validate(schema, _parse(cache, aliased))
        assert validate.call_count == 1
    # The limit alone: the unknown field is not reported, the rules that find it never ran.
    assert [e.message for e in errors] == [
        "the operation has 30 aliased fields, over the limit of 10 (graphql_max_aliases)"]


def test_least_recently_used_documents_are_dropped() -> None:
    cache = DocumentCache(build_schema(), size=2)
    first = _parse(cache, "{ viewer { id } }")
    viewer = _parse(cache, VIEWER)
    _parse(cache, "{ viewer { id } }")  # now the most recent
    _parse(cache, "{ viewer { entity } }")
    assert len(cache) == 2
    assert _parse(cache, "{ viewer { id } }") is first
    assert _parse(cache, VIEWER) is not viewer  # dropped, parsed again
    assert len(cache) == 2


def test_two_apps_in_one_process_keep_their_own_documents(tmp_path: Path) -> None:
    apps: list[Any] = []
    with in_process_app(Settings(data_dir=tmp_path / "a")) as a, \
            in_process_app(Settings(data_dir=tmp_path / "b")) as b:
        for running in (a, b):
            body = running.graphql(VIEWER)
            assert body["data"]["viewer"]["username"] == "admin", body
            apps.append(documents_of(running.client.app.state.tracklet.schema))  # type: ignore[attr-defined]
        assert apps[0] is not apps[1]
        assert len(apps[0]) == len(apps[1]) == 1
        a.graphql("{ viewer { id } }")
        assert len(apps[0]) == 2 and len(apps[1]) == 1
