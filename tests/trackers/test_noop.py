"""NoopAdapter: the JSONL it writes, line for line, and reading runs back from it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tracklet.trackers import NoopAdapter, TrackerBinding


def _events(root: Path, run_id: str) -> list[dict[str, Any]]:
    path = root / "tracker_log" / run_id / "events.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for ev in events:
        assert datetime.fromisoformat(ev.pop("timestamp")).tzinfo is not None
    return events


def test_jsonl_lines_exactly(tmp_path: Path) -> None:
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"x" * 1234)
    adir = tmp_path / "ckpt"
    (adir / "sub").mkdir(parents=True)
    (adir / "a").write_bytes(b"12345")
    (adir / "sub" / "b").write_bytes(b"123")
    adapter = NoopAdapter(log_root=tmp_path / "logs")

    handle = adapter.init_run(project="p", group="sweep-1/a", tags=["t1", "t2"],
                              config={"lr": 0.1, "arch": {"depth": 3}}, notes="hello",
                              offline=True)
    adapter.log(handle, {"loss": 0.5, "acc": 1})
    adapter.log(handle, {"loss": 0.25}, step=7)
    adapter.log_artifact(handle, "weights", artifact)
    adapter.log_artifact(handle, "checkpoint", adir)
    adapter.finish(handle, exit_code=3)

    assert handle.project == "p" and handle.group == "sweep-1/a"
    assert handle.url == (tmp_path / "logs" / "tracker_log" / handle.id
                          / "events.jsonl").resolve().as_uri()
    assert _events(tmp_path / "logs", handle.id) == [
        {"event": "init_run", "project": "p", "group": "sweep-1/a", "tags": ["t1", "t2"],
         "config": {"lr": 0.1, "arch": {"depth": 3}}, "notes": "hello", "offline": True},
        {"event": "log", "metrics": {"loss": 0.5, "acc": 1}},
        {"event": "log", "metrics": {"loss": 0.25}, "step": 7},
        {"event": "log_artifact", "name": "weights", "path": str(artifact), "size_bytes": 1234},
        {"event": "log_artifact", "name": "checkpoint", "path": str(adir), "size_bytes": 8},
        {"event": "finish", "exit_code": 3},
    ]


def test_defaults_and_closed_handle(tmp_path: Path) -> None:
    adapter = NoopAdapter(tmp_path)
    handle = adapter.init_run(project="p")
    adapter.finish(handle)
    assert _events(tmp_path, handle.id) == [
        {"event": "init_run", "project": "p", "group": None, "tags": [], "config": {},
         "notes": None, "offline": False},
        {"event": "finish", "exit_code": 0},
    ]
    with pytest.raises(ValueError):
        adapter.log(handle, {"x": 1})


def test_list_and_find_round_trip(tmp_path: Path) -> None:
    adapter = NoopAdapter(tmp_path)
    a = adapter.init_run(project="p", group="exp-1/a", tags=["x"], config={"k": 1})
    adapter.log(a, {"loss": 2.0})
    adapter.log(a, {"loss": 1.0, "acc": 0.5})
    adapter.finish(a)
    b = adapter.init_run(project="p", group="exp-1/b")
    adapter.finish(b, exit_code=1)
    c = adapter.init_run(project="p", group="exp-2")
    d = adapter.init_run(project="p")
    other = adapter.init_run(project="q", group="exp-1/a")

    # A second adapter over the same root sees the same runs: they are read from the files.
    reader = NoopAdapter(tmp_path)
    by_prefix = reader.list_runs(project="p", group_prefix="exp-1/")
    assert sorted(r.id for r in by_prefix) == sorted([a.id, b.id])
    assert {r.id for r in reader.list_runs(project="p")} == {a.id, b.id, c.id, d.id}
    assert {r.id for r in reader.list_runs(project="p", group_prefix="")} == {a.id, b.id, c.id}
    assert [r.id for r in reader.list_runs(project="q")] == [other.id]
    assert reader.list_runs(project="none") == []

    record = reader.find_run(adapter.binding(a))
    assert record is not None
    assert (record.id, record.project, record.group, record.state, record.tags, record.url) == (
        a.id, "p", "exp-1/a", "finished", ("x",), a.url)
    assert record.config == {"k": 1}
    assert record.summary == {"loss": 1.0, "acc": 0.5}
    found_b = reader.find_run(adapter.binding(b))
    assert found_b is not None and found_b.state == "failed"
    found_c = reader.find_run(adapter.binding(c))
    assert found_c is not None and found_c.state == "running"

    missing = TrackerBinding(backend="noop", run_id="nope", url=None, project="p", group=None)
    assert reader.find_run(missing) is None
    wrong_project = TrackerBinding(backend="noop", run_id=a.id, url=None, project="q",
                                   group=None)
    assert reader.find_run(wrong_project) is None
    with pytest.raises(ValueError):
        reader.find_run(TrackerBinding(backend="wandb", run_id=a.id, url=None, project="p",
                                       group=None))


def test_binding_round_trip(tmp_path: Path) -> None:
    adapter = NoopAdapter(tmp_path)
    handle = adapter.init_run(project="p", group="g")
    binding = adapter.binding(handle)
    stored = json.loads(json.dumps(binding.to_dict()))
    assert stored == {"backend": "noop", "run_id": handle.id, "url": handle.url,
                      "project": "p", "group": "g"}
    assert TrackerBinding.from_dict(stored) == binding
    no_group = TrackerBinding(backend="wandb", run_id="r1", url=None, project="p", group=None)
    assert TrackerBinding.from_dict(no_group.to_dict()) == no_group
    with pytest.raises(KeyError):
        TrackerBinding.from_dict({"backend": "noop", "run_id": "r"})
