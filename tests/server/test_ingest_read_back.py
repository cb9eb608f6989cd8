"""Whatever file_stream accepts reads back (issue 17, finding 8): one property test.

Hypothesis writes adversarial history lines through file_stream (NaN and Infinity beside
integers past 64 bits in one value and across keys, int64 edges, values nested up to and
past ``ingest_max_depth``, wide rows, odd key names, strings that look like JSON). A line is
either refused with a 4xx naming a limit, storing nothing of its request, or accepted; then
GraphQL ``history`` and ``sampledHistory``, ``GET /api/v1/runs/history`` (JSON and Arrow)
and ``GET /api/v1/runs/series`` answer 200 while the run is live, compaction
(``compact_now``) succeeds, and the same reads answer 200 from the Parquet export.

``TRACKLET_INGEST_EXAMPLES`` sets the example count (default 15 per backend).
"""

from __future__ import annotations

import json
import math
import os
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.app import InProcessApp
from tracklet.ingest.filestream import StreamLimits
from tracklet.storage.history.compaction import compact_now
from tracklet.storage.metadata import runs as run_repo

EXAMPLES = int(os.environ.get("TRACKLET_INGEST_EXAMPLES", "15"))
ENTITY, PROJECT = "admin", "readback"
KEYS = ["loss", "val/loss", "a.b", "x y", "é", "big", "inf", "v"]
DEPTH = StreamLimits().max_depth

UPSERT = """mutation U($name: String, $project: String, $entity: String) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity}) {
    bucket { id } } }"""
READS = """query R($project: String!, $entity: String!, $run: String!, $spec: JSONString!) {
  project(name: $project, entityName: $entity) { run(name: $run) {
    history(samples: 500) sampledHistory(specs: [$spec]) historyKeys } } }"""

SCALARS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([2**63, 2**64 + 5, -(2**63) - 1, -(2**70), 2**200, 2**53 + 1]),
    st.booleans(),
    st.none(),
    st.text(max_size=20),
    st.sampled_from(["NaN", "Infinity", '{"_type": "x"}', "[1, 2]", ""]),
)


def _deep(depth: int, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


VALUES = st.one_of(
    SCALARS,
    st.recursive(SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=6), inner, max_size=4)), max_leaves=12),
    # Nested to just under the limit, at it, and past it (those lines are refused).
    st.builds(_deep, st.sampled_from([DEPTH - 3, DEPTH - 2, DEPTH - 1, DEPTH + 5, 300]),
              SCALARS),
    st.builds(lambda a, b: {"x": a, "y": b},
              st.sampled_from([math.nan, math.inf, -math.inf]),
              st.sampled_from([2**64 + 5, -(2**70), 2**63])),
    st.builds(lambda a, b: [a, b], st.sampled_from([math.nan, math.inf]),
              st.sampled_from([2**64 + 5, -(2**70)])),
)

ROWS = st.lists(st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1, max_size=5),
                min_size=1, max_size=8)


def _line(step: int, row: dict[str, Any]) -> str:
    # The SDK's extended JSON: NaN/Infinity tokens and integers of any size.
    return json.dumps({"_step": step, "_runtime": step * 0.5, "_timestamp": 1.7e9 + step,
                       **row})


def _reads(app: InProcessApp, run: str, keys: list[str], stage: str) -> None:
    path = f"{ENTITY}/{PROJECT}/{run}"
    key_list = quote(",".join(keys))
    for url in [f"/api/v1/runs/history?run={path}&keys={key_list}&format=json",
                f"/api/v1/runs/history?run={path}&keys={key_list}",
                f"/api/v1/runs/series?runs={path}&keys={key_list}&buckets=50"]:
        response = app.client.get(url)
        assert response.status_code == 200, (stage, url, response.text[:500])
    spec = json.dumps({"keys": ["_step", *keys], "samples": 100})
    response = app.client.post("/graphql", json={"query": READS, "variables": {
        "project": PROJECT, "entity": ENTITY, "run": run, "spec": spec}})
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, (stage, response.text[:500])
    assert body["data"]["project"]["run"]["history"] is not None


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(rows=ROWS, batch=st.integers(min_value=1, max_value=4))
def test_whatever_file_stream_accepts_reads_back(app: InProcessApp, rows: list[dict[str, Any]],
                                                 batch: int) -> None:
    run = uuid.uuid4().hex[:8]
    body = app.client.post("/graphql", json={"query": UPSERT, "variables": {
        "name": run, "project": PROJECT, "entity": ENTITY}}).json()
    assert "errors" not in body, body
    stored = 0
    keys: set[str] = set()
    for start in range(0, len(rows), batch):
        part = rows[start:start + batch]
        lines = [_line(stored + i, row) for i, row in enumerate(part)]
        response = app.client.post(f"/files/{ENTITY}/{PROJECT}/{run}/file_stream", json={
            "files": {"wandb-history.jsonl": {"offset": stored, "content": lines}}})
        if response.status_code in (400, 413):
            assert "ingest_max_" in response.text, response.text
            continue
        assert response.status_code == 200, response.text[:500]
        stored += len(lines)
        keys.update(k for row in part for k in row)
    with app.storage.db.read() as conn:
        found = run_repo.find_run_by_path(conn, ENTITY, PROJECT, run)
    assert found is not None and found.history_line_count == stored
    if not keys:
        return
    ordered = sorted(keys)
    _reads(app, run, ordered, "live")
    finish = app.client.post(f"/files/{ENTITY}/{PROJECT}/{run}/file_stream",
                             json={"files": {}, "complete": True, "exitcode": 0})
    assert finish.status_code == 200
    assert compact_now(app.storage, found.id)
    _reads(app, run, ordered, "compacted")


@pytest.mark.parametrize("value", [
    _deep(DEPTH - 1, 1),
    {"x": math.nan, "y": 2**64 + 5},
    [math.inf, -(2**70)],
])
def test_named_regressions_read_back(app: InProcessApp, value: Any) -> None:
    """The issue's cases: a value nested to the limit; NaN/Infinity beside an integer past
    64 bits in one value; Infinity in one key and a >64-bit int in the requested one."""
    run = uuid.uuid4().hex[:8]
    app.client.post("/graphql", json={"query": UPSERT, "variables": {
        "name": run, "project": PROJECT, "entity": ENTITY}})
    lines = [_line(0, {"v": value, "inf": math.inf, "big": 2**70}),
             _line(1, {"v": 1.5, "inf": 2**64, "big": math.nan})]
    response = app.client.post(f"/files/{ENTITY}/{PROJECT}/{run}/file_stream", json={
        "files": {"wandb-history.jsonl": {"offset": 0, "content": lines}}})
    assert response.status_code == 200, response.text
    for keys in (["v"], ["big"], ["inf", "big"]):
        _reads(app, run, keys, "live")
    with app.storage.db.read() as conn:
        found = run_repo.find_run_by_path(conn, ENTITY, PROJECT, run)
    assert found is not None
    app.client.post(f"/files/{ENTITY}/{PROJECT}/{run}/file_stream",
                    json={"files": {}, "complete": True, "exitcode": 0})
    assert compact_now(app.storage, found.id)
    for keys in (["v"], ["big"], ["inf", "big"]):
        _reads(app, run, keys, "compacted")


def test_too_deep_a_value_is_refused_and_nothing_is_stored(app: InProcessApp) -> None:
    run = uuid.uuid4().hex[:8]
    app.client.post("/graphql", json={"query": UPSERT, "variables": {
        "name": run, "project": PROJECT, "entity": ENTITY}})
    lines = [_line(0, {"v": 1}), _line(1, {"v": _deep(300, 1)})]
    response = app.client.post(f"/files/{ENTITY}/{PROJECT}/{run}/file_stream", json={
        "files": {"wandb-history.jsonl": {"offset": 0, "content": lines}}})
    assert response.status_code == 400
    assert "over the limit of 64 (ingest_max_depth)" in response.json()["errors"][0]["message"]
    with app.storage.db.read() as conn:
        found = run_repo.find_run_by_path(conn, ENTITY, PROJECT, run)
    assert found is not None and found.history_line_count == 0
