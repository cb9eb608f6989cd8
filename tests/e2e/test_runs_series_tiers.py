"""GET /api/v1/runs/series over every state of a run's history, against a live server:
all live, all exported, resumed (exported rows plus live rows, some live rows replacing
exported steps) and compacted again, with NaN/Infinity, non-numeric values, integers,
integers mixed with floats, sparse and missing keys. Every bucket of the JSON and of the
Arrow answer is compared exactly with a brute-force reduction of what was sent."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

import httpx
import pyarrow as pa

from tests.e2e.conftest import LiveServer
from tests.e2e.http_writer import HttpWriter
from tests.e2e.test_api_history import wait_for_export
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata.runs import get_run_by_path
from tracklet.testing.series_oracle import (
    as_float64,
    expected_series,
    from_binary,
    from_json,
    mismatches,
    same_series,
    same_value,
)

ENTITY = "admin"
KEYS = ["loss", "acc", "mixed", "text", "flag", "sparse", "media", "never"]


def _row(step: int, seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {"_step": step, "loss": ((step * 7919 + seed) % 1009) / 7.0,
                           "acc": (step * 31 + seed) % 97 - 40}
    row["mixed"] = step % 50 if step % 2 else step / 8
    row["text"] = f"note {step}" if step % 3 else step * 0.5
    if step % 5 == 0:
        row["flag"] = step % 10 == 0
    if step % 17 == 3:
        row["sparse"] = -step / 3
    if step % 40 == 7:
        row["media"] = {"_type": "image-file", "path": f"media/{step}.png"}
    if step % 97 == 11:
        row["loss"] = math.nan
    if step % 211 == 5:
        row["loss"] = math.inf if step % 2 else -math.inf
    if step % 101 == 50:
        row["acc"] = None
    return row


def _rows(start: int, stop: int, seed: int) -> list[dict[str, Any]]:
    return [_row(s, seed) for s in range(start, stop)]


# Per run path: the rows it logged, and those it logged after it was exported and resumed.
Logged = dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]


def _check_json(answer: dict[str, Any], runs: Logged) -> None:
    start, width = answer["start"], answer["bucketWidth"]
    assert [r["run"] for r in answer["runs"]] == list(runs)
    for entry, (rows, resumed) in zip(answer["runs"], runs.values(), strict=True):
        assert sorted(entry["series"]) == sorted(KEYS)
        for key in KEYS:
            got = entry["series"][key]
            want = expected_series(rows, key, start, width, resumed=resumed)
            bad = mismatches(got, want)
            assert not bad, (entry["run"], key, bad[:5])
            # Integer keys stay integers.
            if key == "acc":
                assert all(type(v) is int for col in ("min", "max", "last") for v in got[col])
        for key in ("flag", "media", "never"):
            assert entry["series"][key]["bucket"] == []


def _check_arrow(table: pa.Table, answer: dict[str, Any]) -> None:
    """The Arrow answer holds the JSON answer's buckets, values as float64."""
    assert table.schema.metadata[b"bucketWidth"] == str(answer["bucketWidth"]).encode()
    rows = table.to_pylist()
    want = []
    for entry in answer["runs"]:
        for key, s in entry["series"].items():
            for i in range(len(s["bucket"])):
                want.append({"run": entry["run"], "key": key, "bucket": s["bucket"][i],
                             "count": s["count"][i], "firstStep": s["firstStep"][i],
                             "lastStep": s["lastStep"][i],
                             **{c: float(from_json(s[c][i])) for c in ("min", "max", "last")}})
    assert len(rows) == len(want)
    for got, expected in zip(rows, want, strict=True):
        assert got.keys() == expected.keys()
        assert all(same_value(got[k], expected[k]) for k in got), (got, expected)


def _check_binary(body: bytes, answer: dict[str, Any], runs: Logged) -> None:
    """The binary answer holds the JSON answer's buckets and the oracle's values, as
    float64."""
    got = from_binary(body)
    assert {k: got[k] for k in ("x", "start", "bucketWidth", "buckets")} == {
        k: answer[k] for k in ("x", "start", "bucketWidth", "buckets")}
    assert [r["run"] for r in got["runs"]] == list(runs)
    for entry, whole, (rows, resumed) in zip(got["runs"], answer["runs"], runs.values(),
                                             strict=True):
        for key in KEYS:
            want = expected_series(rows, key, answer["start"], answer["bucketWidth"],
                                   resumed=resumed)
            assert not mismatches(entry["series"][key], as_float64(want)), (entry["run"], key)
            assert same_series(entry["series"][key], as_float64(whole["series"][key]))


def _query(server: LiveServer, runs: Logged, buckets: int) -> None:
    params = {"runs": ",".join(runs), "keys": ",".join(KEYS), "buckets": str(buckets)}
    auth = ("api", server.key)
    resp = httpx.get(f"{server.url}/api/v1/runs/series", params=params, auth=auth, timeout=60)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    _check_json(answer, runs)
    arrow = httpx.get(f"{server.url}/api/v1/runs/series", params=params, auth=auth, timeout=60,
                      headers={"Accept": "application/vnd.apache.arrow.stream"})
    assert arrow.status_code == 200, arrow.text
    _check_arrow(pa.ipc.open_stream(arrow.content).read_all(), answer)
    binary = httpx.get(f"{server.url}/api/v1/runs/series", params={**params, "format": "binary"},
                       auth=auth, timeout=60)
    assert binary.status_code == 200, binary.text
    assert binary.headers["content-type"] == "application/vnd.tracklet.series"
    _check_binary(binary.content, answer, runs)


def _send(writer: HttpWriter, project: str, name: str, rows: list[dict[str, Any]],
          offset: int) -> None:
    writer.log(ENTITY, project, name, rows, offset=offset)


def _wait_for_parts(server: LiveServer, project: str, name: str, exported: int, live: int,
                    timeout: float = 120.0) -> None:
    storage = server.storage()
    try:
        with storage.db.read() as conn:
            run_pk = get_run_by_path(conn, ENTITY, project, name).id
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open_history(storage, run_pk) as view:
                if (sum(e.row_count for e in view.exports), view.live_count) == (exported, live):
                    return
            time.sleep(0.25)
    finally:
        storage.close()
    raise AssertionError(f"{project}/{name} was not compacted in {timeout}s")


def test_series_exact_across_tiers_and_resume(live_server: LiveServer) -> None:
    project = f"tiers-{uuid.uuid4().hex[:8]}"
    writer = HttpWriter(live_server.url, live_server.key)
    paths = {n: f"{ENTITY}/{project}/{n}" for n in ("resumed", "live", "done")}
    for name in paths:
        writer.create_run(ENTITY, project, name)
    first = _rows(0, 600, 1)
    live_rows = _rows(3, 950, 2)
    done_rows = _rows(0, 400, 3)
    _send(writer, project, "resumed", first, 0)
    _send(writer, project, "live", live_rows, 0)
    _send(writer, project, "done", done_rows, 0)
    writer.finish(ENTITY, project, "done")
    wait_for_export(live_server, project, "done", len(done_rows))

    # "resumed" still running: every one of its rows is live.
    runs: Logged = {paths["resumed"]: (first, []), paths["live"]: (live_rows, []),
                    paths["done"]: (done_rows, [])}
    for buckets in (1, 7, 100, 1000):
        _query(live_server, runs, buckets)

    # Finished and compacted.
    writer.finish(ENTITY, project, "resumed")
    wait_for_export(live_server, project, "resumed", len(first))
    for buckets in (7, 1000):
        _query(live_server, runs, buckets)

    # Resumed: steps 550..599 are logged again (live rows replace the exported ones) and
    # the run goes on to step 799; both tiers now hold rows.
    again = _rows(550, 800, 4)
    _send(writer, project, "resumed", again, len(first))
    runs[paths["resumed"]] = (first, again)
    for buckets in (1, 7, 100, 1000, 5000):
        _query(live_server, runs, buckets)

    # Compacted again: steps 600..799 join the export; the rewritten steps 550..599 differ
    # from their exported rows, so they stay live and keep overriding them.
    writer.finish(ENTITY, project, "resumed")
    _wait_for_parts(live_server, project, "resumed", exported=800, live=50)
    for buckets in (7, 1000):
        _query(live_server, runs, buckets)
    writer.close()


def test_large_answer_is_gzip_encoded_and_exact(live_server: LiveServer) -> None:
    """An answer over a megabyte is gzip-encoded by the endpoint itself (for clients that
    accept it) and decodes to the same JSON as the identity encoding."""
    project = f"big-{uuid.uuid4().hex[:8]}"
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, "r")
    rows = [{"a": i / 3, "b": i * 7, "c": -i / 9} for i in range(20_000)]
    sent = writer.log(ENTITY, project, "r", rows)
    writer.close()
    params = {"runs": f"{ENTITY}/{project}/r", "keys": "a,b,c", "buckets": "10000"}
    url = f"{live_server.url}/api/v1/runs/series"
    auth = ("api", live_server.key)
    plain = httpx.get(url, params=params, auth=auth, timeout=60,
                      headers={"Accept-Encoding": "identity"})
    zipped = httpx.get(url, params=params, auth=auth, timeout=60,
                       headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == zipped.status_code == 200
    assert "content-encoding" not in plain.headers
    assert len(plain.content) > 1 << 20
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) // 2
    assert zipped.content == plain.content
    answer = plain.json()
    series = answer["runs"][0]["series"]
    assert answer["bucketWidth"] == 2
    for key in ("a", "b", "c"):
        want = expected_series(sent, key, answer["start"], answer["bucketWidth"])
        assert series[key] == want
