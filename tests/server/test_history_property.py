"""Every history read path answers what W&B answers, on every tier: one property test.

Hypothesis generates histories (sparse keys, steps with gaps, rewritten lines, NaN and
Infinity, integers past 2**53 and past 64 bits, nested dicts, strings, bools, nulls, media
references, objects without a step), writes them through the file_stream protocol to the
app in process, and after each stage of a run's life reads them back through every path and
compares with the oracle (:mod:`tests.support.history_oracle`):

1. all live (the run is running);
2. partly checkpointed (a checkpoint export of the settled slots, forced mid-run);
3. lines already exported rewritten by the client (live rows shadow exported ones);
4. compacted (the run finished and its history is one Parquet export);
5. resumed and appended to (export + live rows), then compacted again.

Paths: ``history`` (HistoryPage pages, as the SDK pages them), ``sampledHistory``
(SampledHistoryPage), ``scan_history`` as wandb 0.31's reader runs it (``parquetHistory``,
then Parquet files and/or live pages), ``historyKeys.lastStep``,
``GET /api/v1/runs/history`` in JSON and Arrow, and ``GET /api/v1/runs/series``. SQLite + a
local folder and PostgreSQL + S3.

``TRACKLET_HISTORY_EXAMPLES`` sets the example count (CI default 12 per backend).
"""

from __future__ import annotations

import io
import json
import os
import random
import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.e2e.http_writer import sdk_json
from tests.support import history_oracle as oracle
from tests.support.app import InProcessApp
from tracklet.storage.history import compaction
from tracklet.storage.history.live import chunks
from tracklet.storage.metadata import runs as run_repo
from tracklet.testing.series_oracle import expected_series, mismatches

ENTITY, PROJECT = "admin", "props"
EXAMPLES = int(os.environ.get("TRACKLET_HISTORY_EXAMPLES", "12"))
#: Small chunk slots, so a checkpoint (whole slots only) happens in a short history.
SLOT = 8

HISTORY_PAGE = """query HistoryPage($entity: String!, $project: String!, $run: String!,
    $minStep: Int64!, $maxStep: Int64!, $pageSize: Int!) {
  project(name: $project, entityName: $entity) { run(name: $run) {
    history(minStep: $minStep, maxStep: $maxStep, samples: $pageSize) } } }"""
SAMPLED_PAGE = """query SampledHistoryPage($entity: String!, $project: String!, $run: String!,
    $spec: JSONString!) {
  project(name: $project, entityName: $entity) { run(name: $run) {
    sampledHistory(specs: [$spec]) } } }"""
PARQUET = """query RunParquetHistory($entity: String!, $project: String!, $runName: String!,
    $liveKeys: [String!]!) {
  project(name: $project, entityName: $entity) { run(name: $runName) {
    parquetHistory(liveKeys: $liveKeys) { parquetUrls liveData } } } }"""
KEYS = """query RunHistoryKeys($project: String!, $entity: String!, $name: String!) {
  project(name: $project, entityName: $entity) { run(name: $name) { historyKeys } } }"""
UPSERT = """mutation UpsertBucket($name: String, $project: String, $entity: String) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity}) {
    bucket { id } } }"""

# -- generated histories ------------------------------------------------------------------

KEY_NAMES = ["loss", "val/loss", "acc", "lr", "a.b", "text", "flag", "media", "nested",
             "big", "mixed"]

MEDIA = {"_type": "image-file", "path": "media/images/sample_3_0a1b.png", "sha256": "0a1b",
         "size": 68, "width": 2, "height": 2, "format": "png"}


def _value(kind: str, rng: random.Random) -> Any:
    """One logged value of ``kind``."""
    if kind == "float":
        return rng.choice([rng.uniform(-1e3, 1e3), float("nan"), float("inf"),
                           float("-inf"), -0.0, 1e308, 5e-324, rng.random()])
    if kind == "int":
        return rng.choice([rng.randint(-50, 50), 2**53 + 1, -(2**63), 2**63 - 1,
                           2**64 + 5, -(2**70), 0])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "str":
        return rng.choice(["", "NaN", "épreuve ✓", "line\nbreak", '{"json": 1}', "x" * 40])
    if kind == "null":
        return None
    if kind == "dict":
        return rng.choice([{"a": 1, "b": {"c": [1, 2.5, "x", None]}}, {"min": -1.5, "max": 2},
                           {"empty": {}}, {"nan": float("nan")}])
    if kind == "list":
        return rng.choice([[1, 2, 3], [], [0.5, "a", True], [[1], [2, 3]]])
    if kind == "media":
        return dict(MEDIA, path=f"media/images/sample_{rng.randint(0, 99)}.png")
    raise AssertionError(kind)


KINDS = ["float", "int", "bool", "str", "null", "dict", "list", "media"]


@dataclass
class Plan:
    """A generated run: keys with their kinds and density, and the stages' shapes."""

    keys: dict[str, tuple[list[str], float]]
    first_lines: int
    more_lines: int
    rewrites: list[int]
    step_gaps: list[int]
    noise: list[int]
    seed: int

    def row(self, step: int, rng: random.Random) -> dict[str, Any]:
        """The row logged at ``step``: each key with its own probability."""
        row: dict[str, Any] = {"_step": step, "_runtime": step * 0.5,
                               "_timestamp": 1.7e9 + step}
        for key, (kinds, density) in self.keys.items():
            if rng.random() < density:
                row[key] = _value(rng.choice(kinds), rng)
        return row


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """A run to generate: between one and a few slots of lines, then more after resume."""
    names = draw(st.lists(st.sampled_from(KEY_NAMES), min_size=1, max_size=5, unique=True))
    keys = {}
    for name in names:
        kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True))
        density = draw(st.sampled_from([1.0, 1.0, 0.5, 0.1, 0.02]))
        keys[name] = (kinds, density)
    first = draw(st.integers(1, 5 * SLOT))
    more = draw(st.integers(0, 3 * SLOT))
    rewrites = draw(st.lists(st.integers(0, first - 1), max_size=4))
    gaps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 7, 1000]), min_size=1, max_size=6))
    noise = draw(st.lists(st.integers(0, first - 1), max_size=2))
    return Plan(keys, first, more, rewrites, gaps, noise, draw(st.integers(0, 2**32)))


# -- the client side: writes and the reads the SDK makes ------------------------------------


class Client:
    """One run, written and read the way the SDK does it."""

    def __init__(self, app: InProcessApp, run: str) -> None:
        self.app = app
        self.run = run
        self.logged = oracle.LoggedHistory()
        self.vars = {"entity": ENTITY, "project": PROJECT}
        body = app.graphql(UPSERT, {"name": run, "project": PROJECT, "entity": ENTITY})
        assert "errors" not in body, body

    def _data(self, query: str, variables: dict[str, Any]) -> Any:
        body = self.app.graphql(query, {**self.vars, **variables})
        assert "errors" not in body, body
        return body["data"]["project"]["run"]

    def stream(self, offset: int, lines: list[str], **extra: Any) -> None:
        """One file_stream request; the oracle records it only once the server took it."""
        files = {"wandb-history.jsonl": {"offset": offset, "content": lines}} if lines else {}
        response = self.app.client.post(
            f"/files/{ENTITY}/{PROJECT}/{self.run}/file_stream",
            json={"files": files, **extra})
        assert response.status_code == 200, response.text
        self.logged.write(offset, lines)

    def finish(self) -> None:
        """The final request of a run: it ends, and (forced here) is compacted."""
        self.stream(0, [], complete=True, exitcode=0)
        with self.app.storage.db.read() as conn:
            run_id = run_repo.get_run_by_path(conn, ENTITY, PROJECT, self.run).id
        assert compaction.compact_now(self.app.storage, run_id)

    def checkpoint(self) -> None:
        """A checkpoint export of the running run's settled slots, forced now."""
        with self.app.storage.db.read() as conn:
            run_id = run_repo.get_run_by_path(conn, ENTITY, PROJECT, self.run).id
        assert compaction.compact_now(self.app.storage, run_id, checkpoint_rows=1)

    def history_page(self, lo: int, hi: int, samples: int) -> list[dict[str, Any]]:
        """HistoryPage: row texts parsed as the SDK parses them."""
        texts = self._data(HISTORY_PAGE, {"run": self.run, "minStep": lo, "maxStep": hi,
                                          "pageSize": samples})["history"]
        return [json.loads(t) for t in texts]

    def sampled_page(self, keys: list[str], lo: int, hi: int,
                     samples: int) -> list[dict[str, Any]]:
        """SampledHistoryPage with the SDK's inclusive ``maxStep``."""
        spec = json.dumps({"keys": keys, "minStep": lo, "maxStep": hi - 1, "samples": samples})
        return list(self._data(SAMPLED_PAGE, {"run": self.run, "spec": spec})
                    ["sampledHistory"][0])

    def last_step(self) -> int:
        """``run.lastHistoryStep``."""
        keys = self._data(KEYS, {"name": self.run})["historyKeys"]
        return int(keys.get("lastStep", -1))

    def sdk_scan(self, keys: list[str] | None, lo: int, hi: int,
                 page: int) -> list[dict[str, Any]]:
        """``scan_history`` as wandb 0.31's reader (wandb-core) runs it: ask
        ``parquetHistory`` where live rows start, read the Parquet files it lists with
        the keys as columns (every row of a file in the page's range), and read pages at
        and past the live boundary with HistoryPage (no keys) or SampledHistoryPage."""
        got = self._data(PARQUET, {"runName": self.run, "liveKeys": ["_step"]})
        answer = got["parquetHistory"]
        live = [json.loads(d) if isinstance(d, str) else d for d in answer["liveData"]]
        min_live = min((d["_step"] for d in live), default=None)
        wanted = ["_step", *keys] if keys else None
        tables = []
        for url in answer["parquetUrls"]:
            response = self.app.client.get(url)
            assert response.status_code == 200, response.text
            file = pq.ParquetFile(io.BytesIO(response.content))
            names = file.schema_arrow.names
            tables.append(file.read(columns=None if wanted is None
                                    else [c for c in wanted if c in names]).to_pylist())
        out: list[dict[str, Any]] = []
        for start in range(lo, hi, page):
            stop = min(start + page, hi)
            rows = [r for t in tables for r in t if start <= r["_step"] < stop]
            needs_live = (stop > min_live) if min_live is not None else not tables
            if needs_live:
                if keys:
                    rows += self.sampled_page(["_step", *keys, "_step"], start, stop,
                                              stop - start)
                else:
                    rows += self.history_page(start, stop, stop - start)
            out += sorted(rows, key=lambda r: r["_step"])
        return out

    def series(self, keys: list[str], buckets: int) -> dict[str, Any]:
        """``GET /api/v1/runs/series`` of this run (JSON)."""
        response = self.app.client.get("/api/v1/runs/series", params={
            "runs": f"{ENTITY}/{PROJECT}/{self.run}", "keys": ",".join(keys),
            "buckets": buckets})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def columns(self, keys: list[str], lo: int | None, hi: int | None,
                fmt: str) -> list[list[Any]]:
        """``GET /api/v1/runs/history`` rows as ``[_step, *values]``."""
        params: dict[str, Any] = {"run": f"{ENTITY}/{PROJECT}/{self.run}",
                                  "keys": ",".join(keys), "format": fmt}
        if lo is not None:
            params["min_step"] = lo
        if hi is not None:
            params["max_step"] = hi
        response = self.app.client.get("/api/v1/runs/history", params=params)
        assert response.status_code == 200, response.text
        if fmt == "json":
            body = response.json()
            assert body["columns"] == ["_step", *keys]
            return list(body["rows"])
        table = ipc.open_stream(response.content).read_all()
        assert table.column_names == ["_step", *keys]
        decoded = []
        for field in table.schema:
            values = table.column(field.name).to_pylist()
            if (field.metadata or {}).get(b"tracklet.encoding") == b"json":
                values = [None if v is None else json.loads(v) for v in values]
            decoded.append(values)
        return [list(row) for row in zip(*decoded, strict=True)]


# -- the comparison -------------------------------------------------------------------------


def check(client: Client, stage: str, rng: random.Random) -> None:
    """Every read path against the oracle, for whole-run and random windows and keys."""
    rows = client.logged.rows()
    steps = [oracle.step_of(r) for r in rows]
    last = steps[-1] if steps else -1
    assert client.last_step() == last, stage
    present = sorted({k for r in rows for k in r if not k.startswith("_")})
    candidates = [*present, "never/logged"]
    windows = [(0, last + 1)]
    if steps:
        a, b = sorted(rng.choice([*steps, last + 1]) for _ in range(2))
        windows.append((a, max(b, a + 1)))
    for lo, hi in windows:
        where = f"{stage}, steps [{lo}, {hi})"
        want = oracle.history_page(rows, lo, hi)
        _same(client.history_page(lo, hi, max(1, len(want)) + 5), want, f"history {where}")
        # At most about 12 pages: a gap of 1,000 steps must not mean 1,000 requests.
        page = max(rng.choice([1, 3, SLOT, 1000]), -(-(hi - lo) // 12))
        paged = [r for start in range(lo, hi, page)
                 for r in client.history_page(start, min(start + page, hi), page)]
        _same(paged, want, f"HistoryPage pages of {page}, {where}")
        keys = rng.sample(candidates, k=min(len(candidates), rng.choice([1, 1, 2, 3])))
        want_keyed = oracle.sampled(rows, keys, lo, hi)
        _same(client.sampled_page(keys, lo, hi, hi - lo), want_keyed,
              f"sampledHistory {keys} {where}")
        _same(client.sdk_scan(keys, lo, hi, page), oracle.scan(rows, keys, lo, hi),
              f"scan_history(keys={keys}, page_size={page}) {where}")
        _same(client.sdk_scan(None, lo, hi, page), oracle.scan(rows, None, lo, hi),
              f"scan_history(page_size={page}) {where}")
        for fmt in ("json", "arrow"):
            # Columns are typed: an int logged next to floats reads as a float there.
            got = client.columns(keys, lo, hi, fmt)
            want_columns = oracle.columns(rows, keys, lo, hi)
            if fmt == "json":  # strict JSON: non-finite floats by name, nested ones too
                got, want_columns = oracle.strict(got), oracle.strict(want_columns)
            diff = oracle.first_difference(got, want_columns, numbers_loose=True)
            assert diff is None, f"/api/v1/runs/history {fmt} {keys} {where}: {diff}"
    check_series(client, rows, rng.sample(candidates, k=min(len(candidates), 3)), stage, rng)


def check_series(client: Client, rows: list[dict[str, Any]], keys: list[str], stage: str,
                 rng: random.Random) -> None:
    """Chart series of ``keys`` against the series oracle over the oracle's rows (which
    already hold what rewrites and resumes replaced)."""
    buckets = rng.choice([1, 7, 10_000])
    answer = client.series(keys, buckets)
    got = answer["runs"][0]["series"]
    for key in keys:
        want = expected_series(rows, key, answer["start"], answer["bucketWidth"])
        if not want["bucket"]:
            assert key not in got or not got[key]["bucket"], (stage, key, got.get(key))
            continue
        bad = mismatches(_doubles(got[key]), _doubles(want))
        assert not bad, f"series {key} ({buckets} buckets) {stage}: {bad[:3]}"


def _doubles(series: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A series with its values as a chart reads them: doubles (an integer past 2**53 is
    the nearest one, whichever tier or column type it came through)."""
    return {column: [float(v) if column in ("min", "max", "last") and type(v) is int else v
                     for v in values] for column, values in series.items()}


def _same(got: list[Any], want: list[Any], what: str) -> None:
    diff = oracle.first_difference(got, want)
    assert diff is None, f"{what}: {diff}"


# -- the property ---------------------------------------------------------------------------


@pytest.fixture
def small_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk slots of :data:`SLOT` lines (checkpoints export whole slots only)."""
    monkeypatch.setattr(chunks, "CHUNK_LINES", SLOT)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 50,
          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan=plans())
def test_every_read_path_matches_the_oracle_on_every_tier(
        app: InProcessApp, small_slots: None, plan: Plan) -> None:
    rng = random.Random(plan.seed)
    client = Client(app, f"r{uuid.uuid4().hex[:10]}")
    step = 0
    sent: list[dict[str, Any]] = []

    def next_rows(n: int) -> list[str]:
        nonlocal step
        lines = []
        for _ in range(n):
            row = plan.row(step, rng)
            sent.append(row)
            lines.append(sdk_json(row))
            step += rng.choice(plan.step_gaps)
        return lines

    lines = next_rows(plan.first_lines)
    for i in plan.noise:  # objects that are not rows: no integral step
        lines[i] = rng.choice(['{"loss": 1.5}', '{"acc": 2, "_runtime": 1}'])
    half = len(lines) // 2
    client.stream(0, lines[:half])
    client.stream(half, lines[half:])
    check(client, "live", rng)

    client.checkpoint()
    check(client, "checkpointed", rng)

    for i in plan.rewrites:  # the client sends an already stored (maybe exported) line again
        row = client.logged.lines[i]
        parsed = oracle.parse_line(row)
        if parsed is not None and oracle.step_of(parsed) is not None:
            client.stream(i, [sdk_json(plan.row(oracle.step_of(parsed), rng))])  # type: ignore[arg-type]
    check(client, "rewritten", rng)

    client.finish()
    check(client, "compacted", rng)

    if plan.more_lines:
        client.stream(client.logged.line_count, next_rows(plan.more_lines))
        check(client, "resumed", rng)
        client.finish()
        check(client, "compacted again", rng)
