"""GET /api/v1/runs/history: a run's exact history of chosen keys as an Arrow IPC stream or
JSON, read from a live-only run, from its Parquet export, and from a resumed run holding
both tiers (with live rows that rewrite exported steps); every value is compared with what
was sent, and with the server's own store."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pyarrow as pa
import pytest

from tests.e2e.conftest import LiveServer
from tests.e2e.http_writer import HttpWriter, same_value
from tests.e2e.test_api_history import stored_rows, wait_for_export

ENTITY = "admin"
ARROW = "application/vnd.apache.arrow.stream"
KEYS = ["loss", "epoch", "val_loss", "note", "shape"]


def _rows(n: int, start: int = 0, scale: float = 1.0) -> list[dict[str, Any]]:
    rows = []
    for i in range(start, start + n):
        row: dict[str, Any] = {"loss": scale / (i + 1), "epoch": i // 100}
        if i % 10 == 3:
            row["val_loss"] = 2.0 * scale / (i + 1)
        if i % 97 == 5:
            row["note"] = f"checkpoint {i}"
        if i % 250 == 7:
            row["shape"] = {"w": i, "h": [1, 2, i % 3]}
        if i == 17:
            row["loss"] = float("nan")
        if i == 18:
            row["loss"] = float("-inf")
        if i == 21:
            row["epoch"] = 2**40 + 1
        if i % 50 == 49:
            row = {"other": i}  # holds none of KEYS: never returned
        rows.append(row)
    return rows


def _merged(*batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the history holds after the batches: later rows replace earlier ones of the same
    step (the batches here never repeat a step within themselves)."""
    by_step: dict[int, dict[str, Any]] = {}
    for batch in batches:
        for row in batch:
            by_step[row["_step"]] = row
    return [by_step[s] for s in sorted(by_step)]


def _expected(rows: list[dict[str, Any]], keys: list[str], lo: int | None = None,
              hi: int | None = None) -> list[list[Any]]:
    out = []
    for r in rows:
        if (lo is not None and r["_step"] < lo) or (hi is not None and r["_step"] >= hi):
            continue
        if any(r.get(k) is not None for k in keys):
            out.append([r["_step"], *(r.get(k) for k in keys)])
    return out


def _get(server: LiveServer, key: str | None = None, **params: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/runs/history", params=params,
                     auth=("api", key or server.key), timeout=60)


def _arrow(server: LiveServer, path: str, keys: list[str], **params: str) -> pa.Table:
    resp = _get(server, run=path, keys=",".join(keys), **params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == ARROW
    table = pa.ipc.open_stream(resp.content).read_all()
    assert table.column_names == ["_step", *keys]
    return table


def _decode(value: Any, field: pa.Field) -> Any:
    if value is not None and field.metadata and field.metadata.get(b"tracklet.encoding") == b"json":
        return json.loads(value)
    return value


def _check_arrow(table: pa.Table, want: list[list[Any]]) -> None:
    got = [[_decode(v, table.schema.field(i)) for i, v in enumerate(row.values())]
           for row in table.to_pylist()]
    assert len(got) == len(want), (len(got), len(want))
    for g, w in zip(got, want, strict=True):
        assert g[0] == w[0] and type(g[0]) is int
        assert all(same_value(a, b) for a, b in zip(g, w, strict=True)), (g, w)


def _from_json(value: Any) -> Any:
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return value


def _check_json(server: LiveServer, path: str, keys: list[str], want: list[list[Any]],
                **params: str) -> None:
    resp = _get(server, run=path, keys=",".join(keys), format="json", **params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["run"] == path and body["columns"] == ["_step", *keys]
    assert len(body["rows"]) == len(want)
    for g, w in zip(body["rows"], want, strict=True):
        g = [_from_json(v) for v in g]
        assert all(same_value(a, b) for a, b in zip(g, w, strict=True)), (g, w)


def _check_all(server: LiveServer, path: str, rows: list[dict[str, Any]]) -> pa.Table:
    table = _arrow(server, path, KEYS)
    _check_arrow(table, _expected(rows, KEYS))
    _check_json(server, path, KEYS, _expected(rows, KEYS))
    # One sparse key: only the rows that hold it.
    _check_arrow(_arrow(server, path, ["val_loss"]), _expected(rows, ["val_loss"]))
    # A step window (max_step exclusive) that cuts through row groups and tiers.
    lo, hi = rows[len(rows) // 3]["_step"], rows[-3]["_step"]
    _check_arrow(_arrow(server, path, ["loss", "note"], min_step=str(lo), max_step=str(hi)),
                 _expected(rows, ["loss", "note"], lo, hi))
    _check_json(server, path, ["loss"], _expected(rows, ["loss"], lo, hi),
                min_step=str(lo), max_step=str(hi))
    # A key the run never logged: no rows, a null column.
    empty = _arrow(server, path, ["never_logged"])
    assert empty.num_rows == 0 and pa.types.is_null(empty.schema.field(1).type)
    return table


def test_history_scan_on_live_exported_and_resumed_runs(live_server: LiveServer) -> None:
    project = f"colscan-{uuid.uuid4().hex[:8]}"
    path = f"{ENTITY}/{project}/tiers"
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, "tiers")
    sent = writer.log(ENTITY, project, "tiers", _rows(3000))

    # Live tier only: the run is still running.
    live = _check_all(live_server, path, sent)
    assert live.schema.field("loss").type == pa.float64()
    assert live.schema.field("shape").metadata == {b"tracklet.encoding": b"json"}
    assert live.schema.field("note").type == pa.string()
    assert live.schema.field("epoch").type == pa.int64()  # typed by the rows themselves

    # Finished: compacted to Parquet (typed columns: integers stay int64).
    writer.finish(ENTITY, project, "tiers")
    wait_for_export(live_server, project, "tiers", len(sent))
    exported = _check_all(live_server, path, sent)
    assert exported.schema.field("epoch").type == pa.int64()
    assert exported.column("epoch").to_pylist()[21 - 21 // 50] == 2**40 + 1

    # Resumed: new rows after the export and rows that rewrite exported steps.
    rewrites = [{**r, "_step": s} for s, r in
                zip(range(1000, 1005), _rows(5, start=1000, scale=-1.0), strict=True)]
    more = writer.log(ENTITY, project, "tiers", _rows(40, start=3000), offset=len(sent))
    again = writer.log(ENTITY, project, "tiers", rewrites, offset=len(sent) + len(more))
    merged = _merged(sent, more, again)
    assert len(merged) == len(sent) + len(more)
    assert all(same_value(a, b) for a, b in zip(stored_rows(live_server, project, "tiers"),
                                                  merged, strict=True))
    both = _check_all(live_server, path, merged)
    assert both.schema.field("epoch").type == pa.int64()
    assert both.column("loss").to_pylist()[1000 - 1000 // 50] < 0  # the rewritten value
    writer.close()


def test_live_only_run_streams_past_one_batch(live_server: LiveServer) -> None:
    project = f"colscan-{uuid.uuid4().hex[:8]}"
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, "long")
    n = 70_000
    sent = writer.log(ENTITY, project, "long", [{"x": i * 0.5, "i": i} for i in range(n)],
                      batch=10_000)
    table = _arrow(live_server, f"{ENTITY}/{project}/long", ["x", "i"])
    assert table.column("_step").to_pylist() == list(range(n))
    assert table.column("x").to_pylist() == [r["x"] for r in sent]
    # Past one batch of live rows the tier's type counts decide: numbers, so float64.
    assert table.schema.field("i").type == pa.float64()
    assert table.column("i").to_pylist() == [float(r["i"]) for r in sent]
    writer.close()


@pytest.mark.parametrize("params, status, message", [
    ({"run": "admin/nope/nope", "keys": "loss"}, 404, "not found"),
    ({"run": "admin/p", "keys": "loss"}, 400, "entity/project/run"),
    ({"keys": "loss"}, 400, "entity/project/run"),
    ({"run": "admin/p/r"}, 400, "keys is required"),
    ({"run": "admin/p/r", "keys": " , "}, 400, "keys is required"),
    ({"run": "admin/p/r", "keys": ",".join(f"k{i}" for i in range(101))}, 400, "at most"),
    ({"run": "admin/p/r", "keys": "loss", "min_step": "ten"}, 400, "min_step must be"),
    ({"run": "admin/p/r", "keys": "loss", "max_step": "1.5"}, 400, "max_step must be"),
    ({"run": "admin/p/r", "keys": "loss", "max_step": str(2**64)}, 400, "64 bits"),
    ({"run": "admin/p/r", "keys": "loss", "format": "csv"}, 400, "format must be"),
])
def test_bad_requests_are_4xx(live_server: LiveServer, params: dict[str, str], status: int,
                              message: str) -> None:
    resp = _get(live_server, **params)
    assert resp.status_code == status, resp.text
    assert message in resp.json()["errors"][0]["message"]


def test_authentication_and_access(live_server: LiveServer) -> None:
    project = f"colscan-{uuid.uuid4().hex[:8]}"
    path = f"{ENTITY}/{project}/private"
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, "private")
    sent = writer.log(ENTITY, project, "private", _rows(20))
    params = {"run": path, "keys": "loss"}

    assert httpx.get(f"{live_server.url}/api/v1/runs/history", params=params).status_code == 401
    assert _get(live_server, key="local-" + "x" * 40, **params).status_code == 401
    key = "mallory-" + "m" * 40
    made = subprocess.run([sys.executable, "-m", "tracklet", "user", "create", "mallory",
                           "--key", key, "--data-dir", str(live_server.data_dir)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    denied = _get(live_server, key=key, **params)
    assert denied.status_code == 404  # refused as if missing
    assert "not found" in denied.json()["errors"][0]["message"]
    # Nothing was harmed, and the owner still reads every row.
    assert all(same_value(a, b) for a, b in zip(stored_rows(live_server, project, "private"),
                                                  sent, strict=True))
    _check_arrow(_arrow(live_server, path, ["loss"]), _expected(sent, ["loss"]))
    writer.close()
