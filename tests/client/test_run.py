"""The light client against a live server, read back through ``wandb.Api()``: history,
summary, config, tags and state, on the live tier (running) and after compaction."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import tracklet
from tests.client.helpers import ENTITY, journal_rows, project, wait_acked
from tests.e2e.conftest import LiveServer
from tests.e2e.test_api_history import same_rows, wait_for_checkpoint, wait_for_export


def _without_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("_runtime", "_timestamp")} for r in rows]


def test_a_run_reads_back_exactly_through_wandb_api(client_env: Path, api: Any,
                                                    live_server: LiveServer) -> None:
    name = project()
    run = tracklet.init(name, config={"lr": 0.1, "layers": [64, 32], "opt": {"beta": 0.9}},
                        name="first light", tags=["a", "b"], group="grp", job_type="train",
                        notes="some notes", dir=client_env)
    expected: list[dict[str, Any]] = []
    for i in range(40):
        row: dict[str, Any] = {"loss": 1.0 / (i + 1), "i": i, "big": 2**62 + i,
                               "tag": f"s{i}", "ok": i % 2 == 0}
        if i == 7:
            row["odd"] = math.nan
        if i == 8:
            row["odd"] = math.inf
        tracklet.log(row)
        expected.append({**row, "_step": i})
    run.log({"part": 1}, commit=False)
    run.log({"other": 2})
    expected.append({"part": 1, "other": 2, "_step": 40})
    run.log({"jump": 1}, step=50)
    run.log({"same_step": 2}, step=50)
    run.log({"after": 3}, step=51, commit=True)
    expected.append({"jump": 1, "same_step": 2, "_step": 50})
    expected.append({"after": 3, "_step": 51})
    run.summary["best"] = 0.01
    run.config.update({"extra": "mid-run"})

    # The journal holds exactly the logged rows, each stamped with time and runtime.
    wait_acked(run, len(expected))
    journaled = journal_rows(run.dir)
    assert same_rows(_without_times(journaled), expected)
    assert all(isinstance(r["_runtime"], float) and r["_timestamp"] > 1e9 for r in journaled)

    # Live tier, while the run is running.
    path = f"{ENTITY}/{name}/{run.id}"
    remote = api.run(path)
    assert remote.state == "running"
    assert same_rows(list(remote.scan_history(page_size=17)), journaled)
    assert run.url == f"{live_server.url}/{ENTITY}/{name}/runs/{run.id}"

    run.finish()
    wait_for_export(live_server, name, run.id, len(expected))
    api.flush()
    remote = api.run(path)
    assert remote.state == "finished"
    assert same_rows(list(remote.scan_history(page_size=17)), journaled)
    assert same_rows(remote.history(samples=1000, pandas=False), journaled)
    assert dict(remote.config) == {"lr": 0.1, "layers": [64, 32], "opt": {"beta": 0.9},
                                   "extra": "mid-run"}
    summary = dict(remote.summary)
    last = journaled[-1]
    assert summary["best"] == 0.01 and summary["loss"] == 1.0 / 40 and summary["after"] == 3
    assert summary["_step"] == 51 and summary["_runtime"] == last["_runtime"]
    assert math.isinf(summary["odd"])
    assert (remote.name, remote.tags, remote.group, remote.job_type, remote.notes) == (
        "first light", ["a", "b"], "grp", "train", "some notes")


def test_an_exception_in_with_fails_the_run(client_env: Path, api: Any) -> None:
    name = project()
    with pytest.raises(RuntimeError), tracklet.init(name, dir=client_env) as run:
        run.log({"x": 1})
        raise RuntimeError("boom")
    assert api.run(f"{ENTITY}/{name}/{run.id}").state == "failed"
    with tracklet.init(name, dir=client_env) as ok:
        ok.log({"x": 1})
    assert api.run(f"{ENTITY}/{name}/{ok.id}").state == "finished"
    with pytest.raises(tracklet.RunError):
        ok.log({"x": 2})


def test_resume_continues_steps_rows_and_summary(client_env: Path, api: Any) -> None:
    name = project()
    with tracklet.init(name, dir=client_env, id="resumeme") as first:
        for i in range(5):
            first.log({"v": i})
    with pytest.raises(tracklet.RunError, match="exists"):
        tracklet.init(name, dir=client_env, id="resumeme", resume="never")
    with pytest.raises(tracklet.RunError, match="does not exist"):
        tracklet.init(name, dir=client_env, id="nosuchrun", resume="must")
    with tracklet.init(name, dir=client_env, id="resumeme", resume="must") as second:
        assert second.step == 5 and second.summary["v"] == 4
        for i in range(5, 8):
            second.log({"v": i})
    api.flush()
    rows = list(api.run(f"{ENTITY}/{name}/resumeme").scan_history())
    assert [(r["_step"], r["v"]) for r in rows] == [(i, i) for i in range(8)]


def test_disabled_mode_records_nothing(tmp_path: Path) -> None:
    run = tracklet.init("nothing", mode="disabled", dir=tmp_path)
    run.log({"x": 1})
    run.finish()
    assert list(tmp_path.iterdir()) == []


def test_a_long_run_reads_back_on_the_checkpoint_tier(client_env: Path, api: Any,
                                                      live_server: LiveServer) -> None:
    """Past 20,000 rows a running run gets a checkpoint export; the client's rows read back
    exactly from both tiers while it runs, and after it finished."""
    name = project()
    run = tracklet.init(name, dir=client_env)
    for i in range(20_500):
        run.log({"loss": 1 / (i + 1), "i": i, "note": f"n{i % 7}"})
    wait_acked(run, 20_500, timeout=120)
    exported, live_rows = wait_for_checkpoint(live_server, name, run.id, 20_500)
    assert exported == 20_000 and live_rows == 500
    path = f"{ENTITY}/{name}/{run.id}"
    assert run.dir is not None
    journaled = journal_rows(run.dir)
    assert same_rows(list(api.run(path).scan_history(page_size=5000)), journaled)
    run.finish()
    wait_for_export(live_server, name, run.id, 20_500)
    api.flush()
    assert same_rows(list(api.run(path).scan_history(page_size=5000)), journaled)
