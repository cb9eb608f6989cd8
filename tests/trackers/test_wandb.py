"""WandbAdapter with the real wandb SDK against a live tracklet server.

The adapter runs in a subprocess with the SDK environment (wandb keeps global state per
process); results are read back with ``wandb.Api()`` and with the adapter's own
``list_runs`` / ``find_run``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

import tracklet
from tests.e2e.conftest import SdkEnv
from tracklet.trackers import TrackerBinding, WandbAdapter, sync_offline_runs

SRC = str(Path(tracklet.__file__).resolve().parent.parent)

ONLINE = """
import json, sys
from pathlib import Path
from tracklet.trackers import WandbAdapter

project = sys.argv[1]
adapter = WandbAdapter(base_dir="runs")
Path("weights.bin").write_bytes(bytes(range(256)) * 40)
a = adapter.init_run(project=project, group="sweep-7/a", tags=["t1", "t2"],
                     config={"lr": 0.1, "arch": {"depth": 3}}, notes="first")
b = adapter.init_run(project=project, group="sweep-7/b")  # open at the same time as a
for i in range(5):
    adapter.log(a, {"loss": 1.0 / (i + 1), "i": i})
adapter.log(a, {"late": 9.5}, step=10)
adapter.log(b, {"x": 1})
adapter.log_artifact(a, "weights", "weights.bin")
adapter.finish(b, exit_code=1)
adapter.finish(a)
c = adapter.init_run(project=project, group="other")
adapter.finish(c)
d = adapter.init_run(project=project)
adapter.finish(d)
print(json.dumps({"handles": [vars(h) for h in (a, b, c, d)],
                  "bindings": [adapter.binding(h).to_dict() for h in (a, b, c, d)]}))
"""

OFFLINE = """
import json, sys
from tracklet.trackers import WandbAdapter

adapter = WandbAdapter(base_dir="offline-root/node1")
h = adapter.init_run(project=sys.argv[1], group="g-off", config={"seed": 4}, offline=True)
for i in range(40):
    adapter.log(h, {"loss": 100 - i, "nested": {"i": i}})
adapter.finish(h)
print(json.dumps({"handle": vars(h), "binding": adapter.binding(h).to_dict()}))
"""


def _run_adapter(sdk: SdkEnv, code: str, project: str) -> dict[str, Any]:
    proc = sdk.run(code, args=(project,), extra_env={"PYTHONPATH": SRC})
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _project() -> str:
    return "trk-" + uuid.uuid4().hex[:8]


def test_online_round_trip(sdk: SdkEnv, api: Any, tmp_path: Path) -> None:
    project = _project()
    out = _run_adapter(sdk, ONLINE, project)
    a, b, c, d = out["handles"]
    for h in out["handles"]:
        run_dir = Path(h["extra"]["dir"])
        assert run_dir == Path("runs") / h["id"]
        assert (sdk.workdir / run_dir / "wandb").is_dir(), "SDK files go to the run's dir"
        assert h["url"] and h["id"] in h["url"]
    assert not (sdk.workdir / "wandb").exists(), "nothing sprawls into the working dir"
    assert a["project"] == project and a["group"] == "sweep-7/a"

    run = api.run(f"admin/{project}/{a['id']}")
    assert run.config == {"lr": 0.1, "arch": {"depth": 3}}
    assert list(run.tags) == ["t1", "t2"]
    assert run.notes == "first"
    assert run.group == "sweep-7/a"
    assert run.state == "finished"
    rows = [{k: v for k, v in r.items() if not k.startswith("_") or k == "_step"}
            for r in run.scan_history()]
    assert rows == [{"_step": i, "loss": 1.0 / (i + 1), "i": i} for i in range(5)] + [
        {"_step": 10, "late": 9.5}]
    summary = {k: v for k, v in run.summary.items() if not k.startswith("_")}
    assert summary == {"loss": 0.2, "i": 4, "late": 9.5}

    (artifact,) = run.logged_artifacts()
    assert artifact.name.split(":")[0] == "weights" and artifact.type == "file"
    got = Path(artifact.download(root=str(tmp_path / "dl"))) / "weights.bin"
    assert got.read_bytes() == bytes(range(256)) * 40

    run_b = api.run(f"admin/{project}/{b['id']}")
    assert run_b.state == "failed" and run_b.group == "sweep-7/b"

    adapter = WandbAdapter(base_dir=tmp_path / "reader")
    listed = adapter.list_runs(project=project, group_prefix="sweep-7/")
    assert sorted((r.id, r.group) for r in listed) == sorted(
        [(a["id"], "sweep-7/a"), (b["id"], "sweep-7/b")])
    assert {r.id for r in adapter.list_runs(project=project)} == {
        h["id"] for h in (a, b, c, d)}
    assert adapter.list_runs(project=project, group_prefix="sweep-7.") == [], \
        "the prefix is matched literally, not as a regex"
    assert adapter.list_runs(project=project, group_prefix="nothing") == []
    assert adapter.list_runs(project="no-such-project-" + project) == []

    binding = TrackerBinding.from_dict(json.loads(json.dumps(out["bindings"][0])))
    record = adapter.find_run(binding)
    assert record is not None
    assert (record.id, record.project, record.group, record.state, record.tags) == (
        a["id"], project, "sweep-7/a", "finished", ("t1", "t2"))
    assert record.url == a["url"]
    assert record.config == {"lr": 0.1, "arch": {"depth": 3}}
    assert record.summary == {"loss": 0.2, "i": 4, "late": 9.5}
    gone = TrackerBinding(backend="wandb", run_id="doesnotexist", url=None, project=project,
                          group=None)
    assert adapter.find_run(gone) is None
    with pytest.raises(ValueError):
        adapter.find_run(TrackerBinding(backend="noop", run_id=a["id"], url=None,
                                        project=project, group=None))


def test_offline_then_sync(sdk: SdkEnv, api: Any, tmp_path: Path) -> None:
    project = _project()
    out = _run_adapter(sdk, OFFLINE, project)
    handle = out["handle"]
    assert handle["url"] is None and handle["extra"]["offline"] is True
    root = sdk.workdir / "offline-root"
    (run_dir,) = (root / "node1" / handle["id"] / "wandb").glob("offline-run-*")
    assert run_dir.name.endswith("-" + handle["id"])

    tracklet_cli = [sys.executable, "-m", "tracklet", "sync-offline", str(root)]
    env = {**sdk.env, "PYTHONPATH": SRC}
    dry = subprocess.run([*tracklet_cli, "--dry-run"], capture_output=True, text=True,
                         env=env, cwd=sdk.workdir, timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == f"would sync\t{handle['id']}\t{run_dir}\n"
    adapter = WandbAdapter(base_dir=tmp_path / "reader")
    binding = TrackerBinding.from_dict(out["binding"])
    assert adapter.find_run(binding) is None, "a dry run uploads nothing"

    # The test process's environment points at the server (the api fixture set it).
    assert os.environ["WANDB_BASE_URL"] == sdk.server.url
    results = sync_offline_runs(root)
    assert [(r.ok, r.path, r.run_id) for r in results] == [(True, run_dir, handle["id"])], \
        [r.stderr for r in results]

    run = api.run(f"admin/{project}/{handle['id']}")
    assert run.id == handle["id"] and run.group == "g-off" and run.config == {"seed": 4}
    assert run.state == "finished"

    def rows() -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if not k.startswith("_") or k == "_step"}
                for r in api.run(f"admin/{project}/{handle['id']}").scan_history()]

    expected = [{"_step": i, "loss": 100 - i, "nested": {"i": i}} for i in range(40)]
    assert rows() == expected
    record = adapter.find_run(binding)
    assert record is not None and record.summary["loss"] == 61

    again = subprocess.run(tracklet_cli, capture_output=True, text=True, env=env,
                           cwd=sdk.workdir, timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"synced\t{handle['id']}\t{run_dir}\n"
    assert rows() == expected, "syncing again stores no row twice"


def test_sync_failure_is_reported(sdk: SdkEnv, api: Any,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project()
    out = _run_adapter(sdk, OFFLINE, project)
    run_id = out["handle"]["id"]
    root = sdk.workdir / "offline-root"
    # wandb sync itself exits 0 here: the failure is seen from the missing .synced marker.
    env = {**sdk.env, "PYTHONPATH": SRC, "WANDB_API_KEY": "local-" + "0" * 40}
    proc = subprocess.run([sys.executable, "-m", "tracklet", "sync-offline", str(root)],
                          capture_output=True, text=True, env=env, cwd=sdk.workdir,
                          timeout=300)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stdout.startswith(f"FAILED\t{run_id}\t")
    assert "without marking the run synced" in proc.stderr

    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    (timed_out,) = sync_offline_runs(root, timeout=5)
    assert (timed_out.ok, timed_out.run_id) == (False, run_id)
    assert timed_out.stderr == "wandb sync did not finish in 5 s"

    monkeypatch.setenv("WANDB_BASE_URL", sdk.server.url)
    (result,) = sync_offline_runs(root)
    assert result.ok, result.stderr
    history = list(api.run(f"admin/{project}/{run_id}").scan_history())
    assert [(r["_step"], r["loss"]) for r in history] == [(i, 100 - i) for i in range(40)]


def test_sync_offline_nothing_to_do(tmp_path: Path) -> None:
    (tmp_path / "wandb" / "run-20260101_000000-abc").mkdir(parents=True)
    (tmp_path / "elsewhere" / "offline-run-20260101_000000-abc").mkdir(parents=True)
    assert sync_offline_runs(tmp_path) == []
    proc = subprocess.run([sys.executable, "-m", "tracklet", "sync-offline", str(tmp_path)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC})
    assert (proc.returncode, proc.stdout) == (0, f"no offline runs under {tmp_path}\n")
