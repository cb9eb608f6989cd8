"""GraphQL cost limits: every document the wandb SDK sends stays within them; deep, aliased,
costly and oversized documents are refused at once with an error naming the limit.

``tests/support/protocol`` holds copies of the protocol reference: the 148 documents of
wandb 0.31's ``operations.json``, the 13 more captured on the wire, and W&B's schema."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import graphql
import pytest

from tests.support.app import InProcessApp, in_process_app
from tracklet.config import Settings
from tracklet.server.graphql import build_schema
from tracklet.server.graphql.cost import QueryLimits, cost_rule, measure
from tracklet.server.graphql.documents import DocumentCache, documents_of

# Copies of the protocol reference: the documents wandb 0.31 sends, and W&B's schema.
PROTOCOL = Path(__file__).parents[1] / "support" / "protocol"
OPERATIONS = PROTOCOL / "wandb_0.31_operations.json"
REFERENCE_SCHEMA = PROTOCOL / "wandb_schema.graphql"

# 201 bytes: three projects' runs nested in one another.
NESTED = ('{project(name:"p",entityName:"e"){runs{edges{node{project{runs{edges{node{project{'
          'runs{edges{node{project{runs{edges{node{project{runs{edges{node{name displayName '
          'jobType createdAt}}}}}}}}}}}}}}}}}}}}}')
ALIASED = ('{project(name:"p",entityName:"e"){run(name:"r"){'
           + " ".join(f"k{i}: historyKeys" for i in range(30)) + "}}}")


CAPTURED = PROTOCOL / "wandb_0.31_captured_documents.json"


def _sdk_documents() -> list[tuple[str, str]]:
    """The documents of wandb 0.31's Python package, plus those captured on the wire that
    the package does not hold as text (wandb-core's own: UpsertBucket, HistoryPage, ...)."""
    from wandb.apis.public.runs import _create_runs_query

    operations = json.loads(OPERATIONS.read_text())
    captured = json.loads(CAPTURED.read_text())
    # Built at run time, so in neither file: api.runs(), lazy and full (historyKeys per run).
    built = [("Runs", _create_runs_query(lazy=lazy)) for lazy in (True, False)]
    return ([(op["name"], text) for op in operations for text in op["documents"]]
            + [(doc["name"], doc["document"]) for doc in captured] + built)


def test_every_sdk_document_is_within_the_default_limits() -> None:
    """All the documents wandb 0.31 sends, measured on W&B's schema and on ours, pass the
    cost rule with the defaults (and the size and token limits) with room to spare."""
    documents = _sdk_documents()
    assert len(documents) >= 160
    limits = QueryLimits.from_settings(Settings())
    rule = cost_rule(limits)
    schemas = [build_schema(), graphql.build_schema(REFERENCE_SCHEMA.read_text())]
    for name, text in documents:
        assert len(text.encode()) <= limits.max_document_bytes, name
        document = graphql.parse(text, max_tokens=limits.max_tokens)
        fragments = [d for d in document.definitions
                     if isinstance(d, graphql.FragmentDefinitionNode)]
        for schema in schemas:
            assert graphql.validate(schema, document, [rule]) == [], name
            for op in document.definitions:
                if isinstance(op, graphql.OperationDefinitionNode):
                    found = measure(op, fragments, schema, limits)
                    assert found.cost * 1.5 <= limits.max_cost, (name, found)
                    assert found.depth + 3 <= limits.max_depth, (name, found)
                    assert found.aliases * 3 <= limits.max_aliases, (name, found)


def _refused(app: InProcessApp, query: str, limit: str) -> float:
    started = time.perf_counter()
    response = app.client.post("/graphql", json={"query": query})
    elapsed = time.perf_counter() - started
    assert response.status_code == 400, response.text
    assert limit in response.json()["errors"][0]["message"]
    return elapsed


def _fastest(app: InProcessApp, query: str, limit: str) -> float:
    # Distinct texts so none is answered from the document cache; the fastest of three
    # keeps a loaded test machine's scheduling out of the measure.
    return min(_refused(app, query.replace('"e"', f'"e{i}"'), limit) for i in range(3))


def test_nested_and_aliased_queries_are_refused_fast(app: InProcessApp) -> None:
    assert len(NESTED.encode()) == 201
    assert _fastest(app, NESTED, "graphql_max_depth") < 0.05
    assert _fastest(app, ALIASED, "graphql_max_aliases") < 0.05


def test_refused_documents_are_not_logged_as_errors(
        app: InProcessApp, caplog: pytest.LogCaptureFixture) -> None:
    # Each used to log its traceback and document at error level: an attacker's loop of
    # refused queries wrote ~600 bytes a request to the server log.
    with caplog.at_level(logging.INFO):
        _refused(app, NESTED, "graphql_max_depth")
        _refused(app, ALIASED, "graphql_max_aliases")
    assert [r for r in caplog.records
            if r.levelno >= logging.INFO and r.name.startswith("tracklet")] == []


def test_costly_query_within_depth_and_aliases_is_refused(app: InProcessApp) -> None:
    query = ('{project(name:"p",entityName:"e"){runs(first:1000){edges{node{project{'
             'runs(first:1000){edges{node{name}}}}}}}}}')
    _refused(app, query, "graphql_max_cost")
    history = ('{project(name:"p",entityName:"e"){runs(first:200){edges{node{'
               'historyKeys}}}}}')
    _refused(app, history, "graphql_max_cost")


def test_fragment_fan_out_is_measured_without_walking_it_all(tmp_path: Path) -> None:
    """Each fragment spreads the next twice: 2**40 fields if expanded naively."""
    fragments = "".join(f"fragment F{i} on User {{ ...F{i + 1} ...F{i + 1} }}\n"
                        for i in range(40))
    query = "{ viewer { ...F0 } }\n" + fragments + "fragment F40 on User { username }\n"
    with in_process_app(Settings(data_dir=tmp_path / "data")) as running:
        assert _refused(running, query, "graphql_max_cost") < 1.0


def test_limits_come_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", graphql_max_depth=2)
    with in_process_app(settings) as running:
        _refused(running, "{ viewer { entity username } }".replace(
            "entity", "teams { edges { node { name } } }"), "over the limit of 2")
        assert running.graphql("{ viewer { username } }")["data"]["viewer"]["username"]


def _rss_bytes() -> int:
    fields = Path("/proc/self/status").read_text().split("VmRSS:")[1].split()
    return int(fields[0]) * 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_large_documents_are_refused_before_parsing(tmp_path: Path) -> None:
    """40 distinct 10 MB documents: each answered 413 naming the limit, none parsed or
    cached, and the process does not keep them."""
    with in_process_app(Settings(data_dir=tmp_path / "data")) as running:
        cache = documents_of(running.client.app.state.tracklet.schema)  # type: ignore[attr-defined]
        running.graphql("{ viewer { username } }")
        cached = len(cache)
        before = 0
        for i in range(40):
            if i == 5:  # the client's and the allocator's buffers are warm by now
                before = _rss_bytes()
            query = "{ viewer { username } }" + f"# {i}" + " " * (10 * 1024 * 1024)
            response = running.client.post("/graphql", json={"query": query})
            assert response.status_code == 413
            assert "graphql_max_document_bytes" in response.json()["errors"][0]["message"]
        grown = _rss_bytes() - before
        assert len(cache) == cached
        # Keeping each document (or its parse tree) would add at least 35 x 10 MB.
        assert grown < 60 * 1024 * 1024, grown


def test_document_cache_is_bounded_by_characters() -> None:
    cache = DocumentCache(build_schema(), size=1000, max_chars=64 * 1024)
    for i in range(200):
        cache.parse(None, {"query": "{ viewer { username } }" + f"#{i}" + " " * 1000})
    assert 0 < len(cache) <= 64
    big = "{ viewer { username } }" + " " * 10_000  # over max_chars / 16: never kept
    before = len(cache)
    cache.parse(None, {"query": big})
    assert len(cache) == before
    assert cache.parse(None, {"query": big}) is not cache.parse(None, {"query": big})


def test_token_limit_is_a_syntax_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", graphql_max_tokens=50)
    with in_process_app(settings) as running:
        query: Any = "{ viewer { " + " ".join(["username"] * 60) + " } }"
        response = running.client.post("/graphql", json={"query": query})
        assert response.status_code == 400
        assert "token" in response.json()["errors"][0]["message"].lower()
