"""GET /api/v1/runs/series with ``fields`` (what the workspace charts ask for) and several
keys per request: the same buckets as the full one-key answers and the oracle, for a live
run, a checkpointed running run and a compacted run, in JSON, in Arrow and in the binary
float64 layout the web UI reads."""

from __future__ import annotations

import io
import math
from typing import Any

import pyarrow as pa

from tests.e2e.http_writer import HttpWriter
from tests.support.app import InProcessApp
from tracklet.storage.history import compaction
from tracklet.storage.metadata import runs as run_repo
from tracklet.testing.series_oracle import (
    as_float64,
    expected_series,
    from_binary,
    mismatches,
    same_series,
)

ENTITY, PROJECT = "admin", "fields"
KEYS = ["loss", "acc", "sparse"]
ARROW = "application/vnd.apache.arrow.stream"
BINARY = "application/vnd.tracklet.series"


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in range(n):
        row: dict[str, Any] = {"_step": s, "loss": ((s * 7919 + seed) % 1009) / 7.0,
                               "acc": (s * 31 + seed) % 97 - 40}
        if s % 13 == 2:
            row["sparse"] = -s / 3
        if s % 97 == 11:
            row["loss"] = math.nan
        if s == 1_234:
            row["loss"] = 1e9  # one spike the band must keep
        rows.append(row)
    return rows


def _tiers(app: InProcessApp) -> dict[str, list[dict[str, Any]]]:
    """Three runs, one per tier, and what each logged."""
    writer = HttpWriter("", app.key, client=app.client)
    logged: dict[str, list[dict[str, Any]]] = {}
    for seed, name in enumerate(("live", "checkpointed", "compacted")):
        writer.create_run(ENTITY, PROJECT, name)
        logged[name] = _rows(2_500, seed)
        writer.log(ENTITY, PROJECT, name, logged[name])
    with app.storage.db.read() as conn:
        ids = {n: run_repo.get_run_by_path(conn, ENTITY, PROJECT, n).id for n in logged}
    assert compaction.compact_now(app.storage, ids["checkpointed"], checkpoint_rows=1_000)
    with app.storage.db.write() as conn:
        run_repo.set_run_columns(conn, ids["compacted"], state="finished")
    assert compaction.compact_now(app.storage, ids["compacted"])
    return logged


def _get(app: InProcessApp, keys: list[str], extra: str = "",
         accept: str = "application/json", raw: bool = False) -> Any:
    runs = ",".join(f"{ENTITY}/{PROJECT}/{n}" for n in ("live", "checkpointed", "compacted"))
    response = app.client.get(
        f"/api/v1/runs/series?runs={runs}&keys={','.join(keys)}&buckets=300{extra}",
        headers={"Accept": accept})
    assert response.status_code == 200, response.text
    return response.json() if accept == "application/json" and not raw else response.content


def test_chart_fields_of_several_keys_equal_the_full_answers(app: InProcessApp) -> None:
    logged = _tiers(app)
    lean = _get(app, KEYS, "&fields=min,max,last")
    for key in KEYS:
        full = _get(app, [key])
        assert (lean["start"], lean["bucketWidth"]) == (full["start"], full["bucketWidth"])
        for got, whole, rows in zip(lean["runs"], full["runs"], logged.values(), strict=True):
            assert got["run"] == whole["run"]
            s = got["series"][key]
            assert sorted(s) == ["bucket", "last", "max", "min"]
            assert s == {k: whole["series"][key][k] for k in s}
            want = expected_series(rows, key, lean["start"], lean["bucketWidth"])
            # The oracle's full series, narrowed to the arrays that were asked for.
            assert not mismatches({**whole["series"][key], **s}, want), (got["run"], key)
            if key == "loss":
                assert 1e9 in s["max"]  # the spike is in its bucket's band


def test_arrow_fields_and_bad_fields(app: InProcessApp) -> None:
    _tiers(app)
    body = _get(app, KEYS, "&fields=last", accept=ARROW)
    table = pa.ipc.open_stream(io.BytesIO(body)).read_all()
    assert table.column_names == ["run", "key", "bucket", "last"]
    full = _get(app, KEYS)
    want = [(e["run"], k, b, v) for e in full["runs"] for k in KEYS
            for b, v in zip(e["series"][k]["bucket"], e["series"][k]["last"], strict=True)]
    got = [(r["run"], r["key"], r["bucket"], r["last"]) for r in table.to_pylist()]
    assert len(got) == len(want)
    for (run, key, bucket, value), (run2, key2, bucket2, value2) in zip(got, want,
                                                                        strict=True):
        assert (run, key, bucket) == (run2, key2, bucket2)
        assert value == value2 or (value != value and value2 == "NaN")
    response = app.client.get(f"/api/v1/runs/series?runs={ENTITY}/{PROJECT}/live&keys=loss"
                              "&fields=min,avg")
    assert response.status_code == 400 and "'avg'" in response.json()["error"]


def test_binary_answer_equals_json_and_oracle_on_every_tier(app: InProcessApp) -> None:
    logged = _tiers(app)
    full = _get(app, KEYS)
    for extra, fields in (("", ["count", "firstStep", "lastStep", "min", "max", "last"]),
                          ("&fields=min,max,last", ["min", "max", "last"])):
        for how in ("&format=binary" + extra, extra):
            accept = "application/json" if "format" in how else BINARY
            got = from_binary(_get(app, KEYS, how, accept=accept, raw=True))
            assert got["fields"] == fields
            assert {k: got[k] for k in ("x", "start", "bucketWidth", "buckets")} == {
                k: full[k] for k in ("x", "start", "bucketWidth", "buckets")}
            for entry, whole, rows in zip(got["runs"], full["runs"], logged.values(),
                                          strict=True):
                assert entry["run"] == whole["run"]
                for key in KEYS:
                    s = entry["series"][key]
                    assert sorted(s) == sorted(["bucket", *fields])
                    assert same_series(s, as_float64({k: whole["series"][key][k] for k in s}))
                    want = expected_series(rows, key, full["start"], full["bucketWidth"])
                    narrowed = {**as_float64(want), **s}
                    assert not mismatches(narrowed, as_float64(want)), (entry["run"], key)
                    if key == "loss":
                        assert 1e9 in s["max"] and any(v != v for v in s["last"])
    # No runs' buckets (a range past every step): a header and nothing else.
    empty = from_binary(_get(app, ["loss"], "&format=binary&min_step=10000000", raw=True))
    assert empty["buckets"] == 0
    assert all(e["series"]["loss"]["bucket"] == [] for e in empty["runs"])
    response = app.client.get(f"/api/v1/runs/series?runs={ENTITY}/{PROJECT}/live&keys=loss"
                              "&format=csv")
    assert response.status_code == 400 and "'csv'" in response.json()["error"]
