"""GET /api/v1/runs/series with runs the real wandb SDK wrote, read while one is still
running (live tier) and after both finished (Parquet exports): every bucket's count, first
and last step, min, max and last are checked exactly against what was logged."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import httpx
import pyarrow as pa
import pytest

from tests.e2e.conftest import LiveServer, SdkEnv
from tests.e2e.test_api_history import wait_for_export
from tracklet.testing.series_oracle import expected_series, mismatches

ENTITY = "admin"

SDK_SCRIPT = """
import json, math, os, sys, time, httpx, wandb
project, name, n, seed, poll = sys.argv[1:6]
n, seed = int(n), int(seed)
run = wandb.init(project=project, id=name,
                 settings=wandb.Settings(x_file_stream_transmit_interval=0.5))
logged = []
for i in range(n):
    row = {"loss": ((i * 7919 + seed) % 1009) / 7.0, "acc": i % 13}
    if i == 77:
        row["loss"] = 1e6
    if i == 78:
        row["loss"] = float("nan")
    if i % 4 == 1:
        row["grad"] = -((i * 31 + seed) % 101) / 3.0
    run.log(row)
    logged.append({"_step": i, **row})
answers = []
if poll == "poll":
    # Still running: wait until the server holds every row, then keep its answer.
    url = os.environ["WANDB_BASE_URL"] + "/api/v1/runs/series"
    auth = ("api", os.environ["WANDB_API_KEY"])
    params = {"runs": f"admin/{project}/{name}", "keys": "loss,acc,grad", "buckets": "37"}
    deadline = time.time() + 90
    while time.time() < deadline:
        r = httpx.get(url, params=params, auth=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        if sum(body["runs"][0]["series"]["acc"]["count"]) == n:
            answers.append(body)
            break
        time.sleep(0.5)
with open(f"{name}.json", "w") as fh:
    json.dump({"rows": logged, "answers": answers}, fh, allow_nan=True)
run.finish()
"""


def _check(answer: dict[str, Any], runs: dict[str, list[dict[str, Any]]],
           keys: list[str]) -> None:
    start, width = answer["start"], answer["bucketWidth"]
    assert answer["x"] == "_step"
    assert [r["run"] for r in answer["runs"]] == list(runs)
    for entry, rows in zip(answer["runs"], runs.values(), strict=True):
        for key in keys:
            got, want = entry["series"][key], expected_series(rows, key, start, width)
            bad = mismatches(got, want)
            assert not bad, (entry["run"], key, bad[:5])
            logged = [r[key] for r in rows if key in r and not math.isnan(r[key])]
            assert min(logged) in got["min"] and max(logged) in got["max"]


def _get(server: LiveServer, **params: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/runs/series", params=params,
                     auth=("api", server.key), timeout=60)


def test_series_of_running_and_finished_sdk_runs(sdk: SdkEnv, live_server: LiveServer) -> None:
    project = f"series-{uuid.uuid4().hex[:8]}"
    sdk.run(SDK_SCRIPT, args=(project, "short", "300", "1", "poll"))
    sdk.run(SDK_SCRIPT, args=(project, "long", "2000", "2", "no"))
    short = json.loads((sdk.workdir / "short.json").read_text())
    long = json.loads((sdk.workdir / "long.json").read_text())
    keys = ["loss", "acc", "grad"]

    # What the endpoint answered while "short" was still running (its live rows).
    assert short["answers"], "the running run's rows never all reached the server"
    _check(short["answers"][0], {f"{ENTITY}/{project}/short": short["rows"]}, keys)

    for name, data in (("short", short), ("long", long)):
        wait_for_export(live_server, project, name, len(data["rows"]))
    runs = {f"{ENTITY}/{project}/short": short["rows"], f"{ENTITY}/{project}/long": long["rows"]}
    for buckets in ("1", "37", "1000", "5000"):
        resp = _get(live_server, runs=",".join(runs), keys="loss,acc,grad", buckets=buckets)
        assert resp.status_code == 200, resp.text
        answer = resp.json()
        assert answer["bucketWidth"] == max(1, -(-2000 // int(buckets)))
        _check(answer, runs, keys)

    # The Arrow IPC variant carries the same buckets.
    resp = httpx.get(f"{live_server.url}/api/v1/runs/series", auth=("api", live_server.key),
                     params={"runs": ",".join(runs), "keys": "loss", "buckets": "50"},
                     headers={"Accept": "application/vnd.apache.arrow.stream"})
    assert resp.status_code == 200
    table = pa.ipc.open_stream(resp.content).read_all()
    as_json = _get(live_server, runs=",".join(runs), keys="loss", buckets="50").json()
    long_rows = table.filter(pa.compute.equal(table["run"], f"{ENTITY}/{project}/long"))
    assert long_rows["max"].to_pylist() == as_json["runs"][1]["series"]["loss"]["max"]
    assert long_rows["bucket"].to_pylist() == as_json["runs"][1]["series"]["loss"]["bucket"]


@pytest.mark.parametrize("params, status, message", [
    ({"runs": "admin/nope/nope", "keys": "loss"}, 404, "not found"),
    ({"runs": "admin/p", "keys": "loss"}, 400, "entity/project/run"),
    ({"keys": "loss"}, 400, "runs is required"),
    ({"runs": "admin/p/r"}, 400, "keys is required"),
    ({"runs": "admin/p/r", "keys": "loss", "buckets": "0"}, 400, "buckets"),
    ({"runs": "admin/p/r", "keys": "loss", "buckets": "lots"}, 400, "buckets"),
    ({"runs": "admin/p/r", "keys": "loss", "buckets": "10001"}, 400, "buckets"),
    ({"runs": ",".join(f"admin/p/r{i}" for i in range(1001)), "keys": "loss"}, 400, "at most"),
    ({"runs": "admin/p/r", "keys": ",".join(f"k{i}" for i in range(101))}, 400, "at most"),
    ({"runs": "admin/p/r", "keys": "loss", "x": "_runtime"}, 400, "x must be"),
])
def test_bad_requests_are_4xx(live_server: LiveServer, params: dict[str, str], status: int,
                              message: str) -> None:
    resp = _get(live_server, **params)
    assert resp.status_code == status, resp.text
    assert message in resp.text


def test_requires_an_api_key(live_server: LiveServer) -> None:
    resp = httpx.get(f"{live_server.url}/api/v1/runs/series",
                     params={"runs": "admin/p/r", "keys": "loss"})
    assert resp.status_code == 401
    bearer = httpx.get(f"{live_server.url}/api/v1/runs/series",
                       params={"runs": "admin/nope/r", "keys": "loss"},
                       headers={"Authorization": f"Bearer {live_server.key}"})
    assert bearer.status_code == 404
