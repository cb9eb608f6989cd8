"""The null responder's history read: the real wandb SDK's scan_history gets exactly the
generated rows from it (pages, for a live and a finished run alike), and the answers are the
generated data, not canned text."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from benchmarks.runs import run_name

from benchmarks import data, harness, null_history
from tracklet import testing

STEPS = 2_500  # two full pages of 1,000 and a partial one
RUNS = (0, 3)


@pytest.fixture(scope="module")
def responder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = testing.free_port()
    server = testing.launch(
        [sys.executable, "-m", "benchmarks.null_responder", str(port), "--history-runs",
         ",".join(map(str, RUNS)), "--steps", str(STEPS), "--keys", "m3"],
        port, tmp_path_factory.mktemp("null") / "responder.log", cwd=harness.ROOT.parent)
    try:
        server.wait_ready()
        yield server.url
    finally:
        server.stop()


def _sdk_scan(url: str, project: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.sdk_read", url, harness.ADMIN_KEY, project,
         run_name(RUNS[0]), run_name(RUNS[1]), str(STEPS), "--repeats", "1",
         "--count-requests"],
        capture_output=True, text=True, timeout=300, cwd=str(harness.ROOT.parent))
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, object] = orjson.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_real_sdk_scans_a_live_run_page_by_page(responder: str) -> None:
    res = _sdk_scan(responder, "peers")

    assert res["problem"] is None and res["rows"] == STEPS
    # One page request per 1,000 steps, plus the run lookups: nothing else.
    assert res["requests"] == {"Run": 1, "RunHistoryKeys": 1, "RunParquetHistory": 1,
                               "SampledHistoryPage": 3}


def test_real_sdk_scans_a_finished_run_by_pages(responder: str) -> None:
    """A finished run is paged like a live one (tracklet lists no Parquet file)."""
    res = _sdk_scan(responder, "peers" + null_history.EXPORTED_SUFFIX)

    assert res["problem"] is None and res["rows"] == STEPS
    assert res["requests"] == {"Run": 1, "RunHistoryKeys": 1, "RunParquetHistory": 1,
                               "SampledHistoryPage": 3}


def test_pages_hold_the_generated_rows_of_the_named_run(tmp_path: Path) -> None:
    history = null_history.History([0, 5], 30, ["m3"])
    query = "query SampledHistoryPage { project { run { sampledHistory(specs: [$spec]) } } }"
    spec = orjson.dumps({"keys": ["_step", "m3", "_step"], "minStep": 10, "samples": 10,
                         "maxStep": 19}).decode()

    answer = history.answer(query, {"project": "p", "run": "r000005", "spec": spec})
    assert answer is not None
    page = orjson.loads(answer)["data"]["project"]["run"]["sampledHistory"]
    assert page == [[{"_step": s, "m3": data.value(5, s, 3)} for s in range(10, 20)]]
    # The last page stops at the run's last step; an unknown run is null.
    spec = orjson.dumps({"keys": ["m3"], "minStep": 25, "samples": 10, "maxStep": 34}).decode()
    answer = history.answer(query, {"project": "p", "run": "r000000", "spec": spec})
    assert answer is not None
    assert [r["_step"] for r in orjson.loads(answer)["data"]["project"]["run"][
        "sampledHistory"][0]] == list(range(25, 30))
    answer = history.answer(query, {"project": "p", "run": "r000001", "spec": spec})
    assert answer is not None and orjson.loads(answer)["data"]["project"]["run"] is None
    # A sampled (not full) page is not something it can answer exactly.
    spec = orjson.dumps({"keys": ["m3"], "minStep": 0, "samples": 5, "maxStep": 29}).decode()
    with pytest.raises(ValueError, match="full pages"):
        history.answer(query, {"project": "p", "run": "r000000", "spec": spec})


def test_parquet_history_lists_every_step_as_live() -> None:
    history = null_history.History([2], 40, ["m3"])
    query = "query RunParquetHistory { project { run { parquetHistory { parquetUrls } } } }"
    for project in ("x", "x" + null_history.EXPORTED_SUFFIX):
        answer = history.answer(query, {"project": project, "runName": "r000002"})
        assert answer is not None
        got = orjson.loads(answer)["data"]["project"]["run"]["parquetHistory"]
        assert got == {"parquetUrls": [], "liveData": [{"_step": s} for s in range(40)]}
