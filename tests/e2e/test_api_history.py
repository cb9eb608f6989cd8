"""Run history through ``wandb.Api()``: ``history``, ``scan_history``, ``beta_scan_history``,
``download_history_exports`` and ``lastHistoryStep``, on both tiers.

A running run is read from the live tier; once it ends, the server compacts it to a Parquet
export. Either way the SDK pages with ``HistoryPage`` and ``SampledHistoryPage`` (the server
lists no Parquet file in ``parquetHistory``: wandb's reader would return every row of it,
``None`` for keys not logged at a step). Every read, on every tier, is compared with exactly
what was logged: a row has the keys it was logged with, and ``scan_history(keys=K)`` yields
the rows holding every key of K.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import LiveServer, SdkEnv
from tests.e2e.http_writer import HttpWriter, same_value
from tracklet.server.urls import history_export_url
from tracklet.storage.history.read.tiers import RunHistory, open_history
from tracklet.storage.metadata import runs as run_repo

ENTITY = "admin"


def _project() -> str:
    return f"hist-{uuid.uuid4().hex[:8]}"


def _run_pk(live_server: LiveServer, project: str, name: str) -> int:
    storage = live_server.storage()
    try:
        with storage.db.read() as conn:
            return run_repo.get_run_by_path(conn, ENTITY, project, name).id
    finally:
        storage.close()


def _wait_for(live_server: LiveServer, project: str, name: str,
              done: Callable[[RunHistory], bool], what: str, timeout: float) -> tuple[int, int]:
    """Poll the run's history until ``done(view)``; (exported rows, live rows) then."""
    run_pk = _run_pk(live_server, project, name)
    storage = live_server.storage()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with open_history(storage, run_pk) as view:
                if done(view):
                    return sum(e.row_count for e in view.exports), view.live_count
            time.sleep(0.25)
    finally:
        storage.close()
    raise AssertionError(f"history of {project}/{name}: {what} in {timeout}s")


def wait_for_export(live_server: LiveServer, project: str, name: str, rows: int,
                    timeout: float = 120.0) -> None:
    """Wait until the run's whole history of ``rows`` rows sits in its Parquet export."""
    _wait_for(live_server, project, name,
              lambda v: v.fully_exported and sum(e.row_count for e in v.exports) == rows,
              "not compacted", timeout)


def stored_rows(live_server: LiveServer, project: str, name: str) -> list[dict[str, Any]]:
    """The run's history as the server's store holds it (both tiers merged)."""
    run_pk = _run_pk(live_server, project, name)
    storage = live_server.storage()
    try:
        with open_history(storage, run_pk) as view:
            return [row.data for row in view.rows()]
    finally:
        storage.close()


def same_rows(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    """Row lists equal as logged values; on a difference, says where (pytest shows it)."""
    if len(got) != len(expected):
        raise AssertionError(f"{len(got)} rows, expected {len(expected)}")
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        if not same_value(a, b):
            raise AssertionError(f"row {i} differs:\n got      {a}\n expected {b}")
    return True


def project_rows(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """Rows holding every key, reduced to those keys (what keyed reads return)."""
    return [{k: r[k] for k in keys} for r in rows if all(k in r for k in keys)]


def check_reads(api: Any, path: str, expected: list[dict[str, Any]], sparse_key: str) -> None:
    """Every history read of the run at ``path`` against the rows that were logged."""
    api.flush()
    run = api.run(path)
    steps = [r["_step"] for r in expected]
    assert run.lastHistoryStep == steps[-1]

    scanned = list(run.scan_history(page_size=97))
    assert same_rows(scanned, expected)

    lo, hi = steps[len(steps) // 4], steps[len(steps) // 2]
    window = list(run.scan_history(min_step=lo, max_step=hi, page_size=13))
    assert same_rows(window, [r for r in expected if lo <= r["_step"] < hi])

    keyed = list(run.scan_history(keys=[sparse_key], page_size=50))
    want = project_rows(expected, ["_step", sparse_key])
    assert same_rows(keyed, want)

    beta = list(run.beta_scan_history(keys=["loss"], min_step=lo))
    assert same_rows(beta, project_rows([r for r in expected if r["_step"] >= lo],
                                        ["_step", "loss"]))

    full = run.history(samples=len(expected) + 10, pandas=False)
    assert same_rows(full, expected)
    sampled = run.history(keys=[sparse_key], samples=len(expected), pandas=False)
    assert same_rows(sampled, want)
    frame = run.history(keys=["loss"], samples=len(expected))
    assert list(frame["_step"]) == steps
    by_acc = run.history(keys=["loss"], x_axis="acc", samples=len(expected), pandas=False)
    assert same_rows(by_acc, project_rows(expected, ["acc", "loss"]))


def check_no_download(run: Any, directory: Path) -> None:
    """``download_history_exports`` finds no file: the server serves history as pages."""
    from wandb.apis.public.runhistory import IncompleteRunHistoryError

    with pytest.raises(IncompleteRunHistoryError):
        run.download_history_exports(directory / "complete")
    result = run.download_history_exports(directory / "partial", require_complete_history=False)
    assert result.paths == [] and result.contains_live_data


def export_files(live_server: LiveServer, project: str, name: str) -> list[Path]:
    """Local copies of the run's export parts, as the store holds them."""
    run_pk = _run_pk(live_server, project, name)
    storage = live_server.storage()
    try:
        with open_history(storage, run_pk) as view:
            return [storage.files.path(e.blob_key) for e in view.exports]
    finally:
        storage.close()


def _rows(n: int, spike_at: int, dip_at: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"loss": 1.0 / (i + 1), "acc": min(0.9, i / n)}
        if i == spike_at:
            row["loss"] = 7.5
        if i == dip_at:
            row["acc"] = -3.0
        if i % 10 == 3:
            row["val_loss"] = 2.0 / (i + 1)
        if i % 97 == 5:
            row["note"] = f"checkpoint {i}"
        if i == 17:
            row["weird"] = float("nan")
        if i == 18:
            row["weird"] = float("inf")
        rows.append(row)
    return rows


def test_history_on_both_tiers_and_across_resume(api: Any, live_server: LiveServer,
                                                 tmp_path: Path) -> None:
    project, name = _project(), "tiers"
    path = f"{ENTITY}/{project}/{name}"
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, name, config={"lr": 0.1})
    sent = writer.log(ENTITY, project, name, _rows(1500, spike_at=733, dip_at=1111))

    # Live tier: the run is still running.
    assert same_rows(stored_rows(live_server, project, name), sent)
    check_reads(api, path, sent, sparse_key="val_loss")
    check_no_download(api.run(path), tmp_path / "live")

    # Finished: compacted to Parquet; the SDK reads it through the same pages.
    writer.finish(ENTITY, project, name)
    wait_for_export(live_server, project, name, len(sent))
    assert same_rows(stored_rows(live_server, project, name), sent)
    check_reads(api, path, sent, sparse_key="val_loss")
    check_no_download(api.run(path), tmp_path / "exported")
    table = pq.read_table(export_files(live_server, project, name)[0])
    assert table.column_names[0] == "_step"
    assert table.column("_step").to_pylist() == [r["_step"] for r in sent]
    for key in ("loss", "acc", "val_loss", "note"):
        column = table.column(key).to_pylist()
        assert all(same_value(column[i], r[key]) if key in r else column[i] is None
                   for i, r in enumerate(sent))

    # Resumed: new live rows next to the export; every read sees both, once.
    more = writer.log(ENTITY, project, name, [{"loss": 0.5, "acc": 0.95} for _ in range(40)],
                      offset=len(sent))
    check_reads(api, path, sent + more, sparse_key="val_loss")
    writer.finish(ENTITY, project, name)
    wait_for_export(live_server, project, name, len(sent) + len(more))
    assert same_rows(stored_rows(live_server, project, name), sent + more)
    check_reads(api, path, sent + more, sparse_key="val_loss")
    writer.close()


def wait_for_checkpoint(live_server: LiveServer, project: str, name: str, rows: int,
                        timeout: float = 120.0) -> tuple[int, int]:
    """Wait until a running run of ``rows`` rows has an export part and still live rows,
    and the live copies of the exported rows are gone; (exported rows, live rows)."""

    def checkpointed(view: RunHistory) -> bool:
        exported = sum(e.row_count for e in view.exports)
        return bool(exported) and view.has_live and exported + view.live_count == rows

    return _wait_for(live_server, project, name, checkpointed, "no checkpoint export",
                     timeout)


def test_a_long_running_run_is_checkpointed_and_reads_the_same(
        api: Any, live_server: LiveServer) -> None:
    """A running run past 20,000 lines gets a checkpoint export of its settled prefix while
    it keeps logging; every SDK read still sees each logged row exactly once."""
    project, name = _project(), "checkpointed"
    path = f"{ENTITY}/{project}/{name}"
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, name)
    sent = writer.log(ENTITY, project, name, _rows(20_500, spike_at=19_999, dip_at=20_001),
                      batch=2_000)
    exported, live_rows = wait_for_checkpoint(live_server, project, name, len(sent))
    assert exported == 20_000 and live_rows == 500  # whole 1,000-line slots only
    assert same_rows(stored_rows(live_server, project, name), sent)
    check_reads(api, path, sent, sparse_key="val_loss")
    more = writer.log(ENTITY, project, name, [{"loss": 0.5, "acc": 0.95} for _ in range(40)],
                      offset=len(sent))
    check_reads(api, path, sent + more, sparse_key="val_loss")
    writer.finish(ENTITY, project, name)
    wait_for_export(live_server, project, name, len(sent) + len(more))
    check_reads(api, path, sent + more, sparse_key="val_loss")
    writer.close()


@pytest.mark.parametrize("finished", [False, True], ids=["live", "exported"])
def test_sampling_keeps_extremes_at_odd_steps(api: Any, live_server: LiveServer,
                                              finished: bool) -> None:
    project, name = _project(), "extremes"
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, name)
    sent = writer.log(ENTITY, project, name, _rows(5000, spike_at=3217, dip_at=1234),
                      finish=finished)
    if finished:
        wait_for_export(live_server, project, name, len(sent))
    writer.close()
    run = api.run(f"{ENTITY}/{project}/{name}")
    by_step = {r["_step"]: r for r in sent}

    keyed = run.history(keys=["loss"], samples=500, pandas=False)
    assert len(keyed) <= 500
    steps = [r["_step"] for r in keyed]
    assert 3217 in steps and 0 in steps and 4999 in steps
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert all(same_value(r["loss"], by_step[r["_step"]]["loss"]) for r in keyed)
    assert max(r["loss"] for r in keyed) == 7.5

    both = run.history(keys=["acc", "loss"], samples=200, pandas=False)
    assert {1234, 3217} <= {r["_step"] for r in both}

    frame = run.history(samples=500)
    assert {1234, 3217} <= set(frame["_step"])
    assert frame["loss"].max() == 7.5 and frame["acc"].min() == -3.0
    assert len(frame) <= 500

    sparse = run.history(keys=["val_loss"], samples=50, pandas=False)
    assert {r["_step"] for r in sparse} >= {3, 4993}
    assert all(r["_step"] % 10 == 3 for r in sparse)


SDK_SCRIPT = """
import json, math, sys, wandb
project = sys.argv[1]
run = wandb.init(project=project)
logged = []
for i in range(120):
    row = {"loss": 1.0 / (i + 1), "count": i, "flag": i % 2 == 0, "label": f"s{i}"}
    if i == 30:
        row["loss"] = float("nan")
    if i % 25 == 0:
        row["hist"] = wandb.Histogram([1, 2, 2, 3, 3, 3])
    if i % 7 == 0:
        row["nested"] = {"a": i, "b": {"c": [i, i + 1]}}
    step = i if i < 100 else i + 50
    run.log(row, step=step)
    logged.append({"_step": step, **{k: v for k, v in row.items() if k != "hist"}})
run.finish()
with open("logged.json", "w") as fh:
    json.dump({"id": run.id, "rows": logged}, fh, allow_nan=True)
"""


def test_sdk_logged_values_read_back_exactly(api: Any, sdk: SdkEnv,
                                             live_server: LiveServer) -> None:
    project = _project()
    sdk.run(SDK_SCRIPT, args=(project,))
    import json

    data = json.loads((sdk.workdir / "logged.json").read_text())
    logged, run_id = data["rows"], data["id"]
    wait_for_export(live_server, project, run_id, len(logged))
    run = api.run(f"{ENTITY}/{project}/{run_id}")
    keys = ["_step", "loss", "count", "flag", "label", "nested"]

    rows = list(run.scan_history())
    assert [r["_step"] for r in rows] == [r["_step"] for r in logged]
    assert same_rows([{k: r[k] for k in keys if k in r} for r in rows], logged)
    assert all(r["hist"]["_type"] == "histogram" for r in rows if r["_step"] % 25 == 0)

    full = run.history(samples=1000, pandas=False)
    assert same_rows([{k: r[k] for k in keys if k in r} for r in full], logged)
    assert all(isinstance(r["count"], int) for r in full)
    assert math.isnan(next(r["loss"] for r in full if r["_step"] == 30))
    assert run.lastHistoryStep == 169


def test_many_keys(api: Any, live_server: LiveServer) -> None:
    project, name = _project(), "wide"
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, name)
    keys = [f"layer{k:04d}/grad_norm" for k in range(1000)]
    rows = [{key: (i + 1) * (k + 1) / 1000 for k, key in enumerate(keys)} for i in range(60)]
    sent = writer.log(ENTITY, project, name, rows, batch=20)
    run = api.run(f"{ENTITY}/{project}/{name}")
    assert same_rows(list(run.scan_history()), sent)
    assert same_rows(run.history(keys=[keys[999], keys[0]], samples=100, pandas=False),
                     project_rows(sent, ["_step", keys[999], keys[0]]))
    writer.finish(ENTITY, project, name)
    wait_for_export(live_server, project, name, len(sent))
    api.flush()
    run = api.run(f"{ENTITY}/{project}/{name}")
    assert same_rows(list(run.scan_history()), sent)
    assert same_rows(list(run.beta_scan_history(keys=[keys[500]])),
                     project_rows(sent, ["_step", keys[500]]))
    frame = run.history(samples=30)
    assert len(frame.columns) == 1003 and {0, 59} <= set(frame["_step"])
    writer.close()


def test_long_history_streams(api: Any, live_server: LiveServer) -> None:
    """500,000 steps: paged scans on the live tier, compaction, the SDK's Parquet scan,
    and sampling — with the server's memory staying far below the history's size."""
    project, name = _project(), "long"
    n = 500_000
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, name)
    writer.log(ENTITY, project, name, [{"loss": 1.0 / (i + 1)} for i in range(n)],
               batch=10_000)
    run = api.run(f"{ENTITY}/{project}/{name}")
    assert run.lastHistoryStep == n - 1
    tail = list(run.scan_history(min_step=n - 2500, page_size=1000))
    assert [r["_step"] for r in tail] == list(range(n - 2500, n))
    sampled = run.history(keys=["loss"], samples=500, pandas=False)
    assert len(sampled) <= 500 and sampled[0]["_step"] == 0 and sampled[-1]["_step"] == n - 1

    writer.finish(ENTITY, project, name)
    wait_for_export(live_server, project, name, n, timeout=300)
    writer.close()
    api.flush()
    run = api.run(f"{ENTITY}/{project}/{name}")
    count, last = 0, -1
    for row in run.scan_history(keys=["loss"], page_size=50_000):
        assert row["_step"] == last + 1 and row["loss"] == 1.0 / (row["_step"] + 1)
        last = row["_step"]
        count += 1
    assert count == n
    sampled = run.history(keys=["loss"], samples=500, pandas=False)
    assert len(sampled) <= 500 and sampled[-1]["_step"] == n - 1
    peak_mb = _peak_rss_mb(live_server)
    assert peak_mb < 600, f"server peak RSS {peak_mb:.0f} MB"


def _peak_rss_mb(live_server: LiveServer) -> float:
    status = Path(f"/proc/{live_server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


HISTORY_QUERY = """query H($project: String!, $entity: String!, $name: String!,
  $specs: [JSONString!]!, $samples: Int) { project(name: $project, entityName: $entity) {
  run(name: $name) { sampledHistory(specs: $specs) history(samples: $samples) } } }"""


@pytest.mark.parametrize(("specs", "samples", "message"), [
    (["not json"], 10, "spec must be a JSON object"),
    (['{"samples": 5}'], 10, "'keys' must be a non-empty list"),
    (['{"keys": ["a"], "samples": -1}'], 10, "samples must be a non-negative integer"),
    (['{"keys": ["a"], "minStep": "x"}'], 10, "minStep must be an integer"),
    (['{"keys": ["a"]}'], -5, "samples must be a non-negative integer"),
])
def test_bad_history_arguments_are_clear_errors(live_server: LiveServer, specs: list[str],
                                                samples: int, message: str) -> None:
    import httpx

    project, name = _project(), "bad"
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, name)
    writer.close()
    response = httpx.post(f"{live_server.url}/graphql", auth=("api", live_server.key),
                          json={"query": HISTORY_QUERY, "variables": {
                              "project": project, "entity": ENTITY, "name": name,
                              "specs": specs, "samples": samples}}, timeout=30)
    assert response.status_code == 200
    assert any(message in e["message"] for e in response.json()["errors"])


def test_export_url_is_signed_and_supports_ranges(live_server: LiveServer) -> None:
    import httpx

    project, name = _project(), "ranged"
    writer = HttpWriter(live_server.url, live_server.key)
    writer.create_run(ENTITY, project, name)
    writer.log(ENTITY, project, name, [{"x": i} for i in range(100)], finish=True)
    writer.close()
    wait_for_export(live_server, project, name, 100)
    # Nothing hands these URLs to the SDK (parquetHistory lists no file); a signed URL of a
    # run's export is how a download of it is served.
    storage = live_server.storage()
    try:
        run_pk = _run_pk(live_server, project, name)
        with open_history(storage, run_pk) as view:
            part_no = view.exports[0].part
        url = history_export_url(storage, live_server.settings(), live_server.url, run_pk,
                                 part_no, f"{name}.history.0.parquet")
    finally:
        storage.close()
    head = httpx.head(url)
    size = int(head.headers["content-length"])
    whole = httpx.get(url).content
    assert len(whole) == size and whole[:4] == b"PAR1" and whole[-4:] == b"PAR1"
    part = httpx.get(url, headers={"Range": f"bytes={size - 8}-{size - 1}"})
    assert part.status_code == 206 and part.content == whole[-8:]
    forged = url.split("?t=")[0] + "?t=" + url.split("?t=")[1][:-2] + "xx"
    assert httpx.get(forged).status_code == 403
    assert httpx.get(url.split("?")[0]).status_code == 403


SPARSE_SCRIPT = """
import sys, wandb
run = wandb.init(project=sys.argv[1])
for s in range(1000):
    d = {"loss": 1 / (s + 1)}
    if s % 100 == 0:
        d["val/loss"] = s
    run.log(d)
run.finish()
open("run_id", "w").write(run.id)
"""


def test_sparse_metric_scan_is_exact_before_and_after_compaction(
        api: Any, sdk: SdkEnv, live_server: LiveServer) -> None:
    """Issue 14's report: validation every 100 steps, read back with scan_history(keys=):
    10 rows, not 1,000 rows of None once the run is compacted."""
    project = _project()
    sdk.run(SPARSE_SCRIPT, args=(project,))
    run_id = (sdk.workdir / "run_id").read_text()
    path = f"{ENTITY}/{project}/{run_id}"
    want_val = [{"_step": s, "val/loss": s} for s in range(0, 1000, 100)]
    want_both = [{"_step": s, "loss": 1 / (s + 1), "val/loss": s} for s in range(0, 1000, 100)]

    def reads() -> None:
        api.flush()
        run = api.run(path)
        assert same_rows(list(run.scan_history(keys=["val/loss"])), want_val)
        assert same_rows(list(run.scan_history(keys=["loss", "val/loss"])), want_both)
        assert same_rows(run.history(keys=["val/loss"], pandas=False), want_val)
        rows = list(run.scan_history())
        assert len(rows) == 1000 and all(("val/loss" in r) == (r["_step"] % 100 == 0)
                                         for r in rows)
        assert list(run.scan_history(keys=["never/logged"])) == []

    reads()
    wait_for_export(live_server, project, run_id, 1000)
    reads()
