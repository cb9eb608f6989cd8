"""TrackletAdapter (the native client) against a live tracklet server: the same round trip
as the wandb adapter's, read back with ``wandb.Api()`` and with the adapter's own
``list_runs`` / ``find_run``; offline runs found and synced by ``sync_offline_runs`` and
``tracklet sync-offline``."""

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
from tests.e2e.conftest import LiveServer
from tracklet.trackers import (
    TrackerBinding,
    TrackletAdapter,
    find_offline_runs,
    sync_offline_runs,
)

SRC = str(Path(tracklet.__file__).resolve().parent.parent)


def _project() -> str:
    return "trk-" + uuid.uuid4().hex[:8]


@pytest.fixture
def env(api: Any, live_server: LiveServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The client finds the server through WANDB_BASE_URL / WANDB_API_KEY (set by ``api``)."""
    monkeypatch.delenv("TRACKLET_API_KEY", raising=False)
    monkeypatch.delenv("TRACKLET_BASE_URL", raising=False)
    monkeypatch.setenv("TRACKLET_CONFIG_DIR", str(tmp_path / "config"))
    assert os.environ["WANDB_BASE_URL"] == live_server.url


def test_online_round_trip(env: None, api: Any, live_server: LiveServer,
                           tmp_path: Path) -> None:
    project = _project()
    adapter = TrackletAdapter(base_dir=tmp_path / "runs")
    weights = tmp_path / "weights.bin"
    weights.write_bytes(bytes(range(256)) * 40)
    a = adapter.init_run(project=project, group="sweep-7/a", tags=["t1", "t2"],
                         config={"lr": 0.1, "arch": {"depth": 3}}, notes="first")
    b = adapter.init_run(project=project, group="sweep-7/b")  # open at the same time as a
    for i in range(5):
        adapter.log(a, {"loss": 1.0 / (i + 1), "i": i})
    adapter.log(a, {"late": 9.5}, step=10)
    adapter.log(b, {"x": 1})
    adapter.log_artifact(a, "weights", weights)
    adapter.finish(b, exit_code=1)
    adapter.finish(a)
    c = adapter.init_run(project=project, group="other")
    adapter.finish(c)
    d = adapter.init_run(project=project)
    adapter.finish(d)
    with pytest.raises(ValueError):
        adapter.log(a, {"after": 1})
    for h in (a, b, c, d):
        assert Path(h.extra["dir"]).parent.parent == tmp_path / "runs" / h.id
        assert h.url == f"{live_server.url}/admin/{project}/runs/{h.id}"
        assert h.extra["entity"] == "admin" and h.extra["offline"] is False

    run = api.run(f"admin/{project}/{a.id}")
    assert run.config == {"lr": 0.1, "arch": {"depth": 3}}
    assert list(run.tags) == ["t1", "t2"]
    assert (run.notes, run.group, run.state) == ("first", "sweep-7/a", "finished")
    rows = [{k: v for k, v in r.items() if not k.startswith("_") or k == "_step"}
            for r in run.scan_history()]
    assert rows == [{"_step": i, "loss": 1.0 / (i + 1), "i": i} for i in range(5)] + [
        {"_step": 10, "late": 9.5}]
    summary = {k: v for k, v in run.summary.items() if not k.startswith("_")}
    assert summary == {"loss": 0.2, "i": 4, "late": 9.5}
    (artifact,) = run.logged_artifacts()
    assert (artifact.name, artifact.type) == ("weights:v0", "file")
    got = Path(artifact.download(root=str(tmp_path / "dl"))) / "weights.bin"
    assert got.read_bytes() == bytes(range(256)) * 40
    assert api.run(f"admin/{project}/{b.id}").state == "failed"

    reader = TrackletAdapter(base_dir=tmp_path / "reader")
    listed = reader.list_runs(project=project, group_prefix="sweep-7/")
    assert sorted((r.id, r.group) for r in listed) == sorted(
        [(a.id, "sweep-7/a"), (b.id, "sweep-7/b")])
    assert {r.id for r in reader.list_runs(project=project)} == {h.id for h in (a, b, c, d)}
    assert reader.list_runs(project=project, group_prefix="sweep-7.") == []
    assert reader.list_runs(project=project, group_prefix="nothing") == []
    assert reader.list_runs(project="no-such-project-" + project) == []

    binding = TrackerBinding.from_dict(json.loads(json.dumps(adapter.binding(a).to_dict())))
    assert binding.backend == "tracklet"
    record = reader.find_run(binding)
    assert record is not None
    assert (record.id, record.project, record.group, record.state, record.tags) == (
        a.id, project, "sweep-7/a", "finished", ("t1", "t2"))
    assert record.url == a.url
    assert record.config == {"lr": 0.1, "arch": {"depth": 3}}
    assert record.summary == {"loss": 0.2, "i": 4, "late": 9.5}
    gone = TrackerBinding(backend="tracklet", run_id="doesnotexist", url=None,
                          project=project, group=None)
    assert reader.find_run(gone) is None
    with pytest.raises(ValueError):
        reader.find_run(TrackerBinding(backend="wandb", run_id=a.id, url=None,
                                       project=project, group=None))


def test_offline_then_sync_offline(env: None, api: Any, tmp_path: Path) -> None:
    project = _project()
    root = tmp_path / "offline-root"
    adapter = TrackletAdapter(base_dir=root / "node1")
    h = adapter.init_run(project=project, group="g-off", config={"seed": 4}, offline=True)
    for i in range(40):
        adapter.log(h, {"loss": 100 - i, "nested": {"i": i}})
    ckpt = tmp_path / "ckpt"
    (ckpt / "inner").mkdir(parents=True)
    (ckpt / "inner" / "state.bin").write_bytes(b"\x00\x01" * 5000)
    adapter.log_artifact(h, "ckpt", ckpt)
    adapter.finish(h)
    assert h.url is None and h.extra["offline"] is True
    (found,) = find_offline_runs(root)
    assert (found.run_id, found.backend, found.path) == (h.id, "tracklet", Path(h.extra["dir"]))
    binding = adapter.binding(h)
    assert adapter.find_run(binding) is None, "offline: nothing on the server yet"

    cli = [sys.executable, "-m", "tracklet", "sync-offline", str(root)]
    run_env = {**os.environ, "PYTHONPATH": SRC}
    dry = subprocess.run([*cli, "--dry-run"], capture_output=True, text=True, env=run_env,
                         timeout=120)
    assert dry.stdout == f"would sync\t{h.id}\t{found.path}\n", dry.stderr
    assert adapter.find_run(binding) is None

    results = sync_offline_runs(root)
    assert [(r.ok, r.path, r.run_id) for r in results] == [(True, found.path, h.id)], \
        [r.stderr for r in results]
    expected = [{"_step": i, "loss": 100 - i, "nested": {"i": i}} for i in range(40)]

    def rows() -> list[dict[str, Any]]:
        api.flush()
        return [{k: v for k, v in r.items() if not k.startswith("_") or k == "_step"}
                for r in api.run(f"admin/{project}/{h.id}").scan_history()]

    assert rows() == expected
    record = adapter.find_run(binding)
    assert record is not None and record.summary["loss"] == 61 and record.state == "finished"
    assert record.config == {"seed": 4} and record.group == "g-off"

    again = subprocess.run(cli, capture_output=True, text=True, env=run_env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"synced\t{h.id}\t{found.path}\n"
    assert rows() == expected, "syncing again stores no row twice"
    (artifact,) = api.run(f"admin/{project}/{h.id}").logged_artifacts()
    assert (artifact.name, artifact.type) == ("ckpt:v0", "directory")
    got = Path(artifact.download(root=str(tmp_path / "dl-ckpt")))
    assert (got / "inner" / "state.bin").read_bytes() == b"\x00\x01" * 5000
