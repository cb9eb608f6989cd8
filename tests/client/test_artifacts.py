"""Versioned artifacts from the light client, read back with ``wandb.Api().artifact()``:
logged online and offline (+ sync, twice), deduplicated by content, used and downloaded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import tracklet
from tests.client.helpers import ENTITY, project
from tests.e2e.conftest import LiveServer
from tracklet.client.credentials import Credentials
from tracklet.client.sync import is_synced, sync_run


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _dataset(root: Path, salt: str) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text(f"alpha {salt}\n")
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40 + salt.encode())
    (root / "empty").write_bytes(b"")
    return root


def _artifact(api: Any, path: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return api.artifact(path)
        except Exception:
            if time.monotonic() > deadline:
                raise
            api.flush()
            time.sleep(0.2)


def test_online_artifacts_version_and_read_back_through_wandb(
        client_env: Path, api: Any, live_server: LiveServer, tmp_path: Path) -> None:
    name = project()
    first = _dataset(tmp_path / "d1", "one")
    second = _dataset(tmp_path / "d2", "two")
    with tracklet.init(name, dir=client_env) as run:
        run.log_artifact(first, name="data", type="dataset", aliases=["best"],
                         metadata={"rows": 3})
        (first / "a.txt").write_text("changed after logging\n")  # the logged copy stays
        run.log_artifact(tmp_path / "d2" / "a.txt", name="single", type="model")
    v0 = _artifact(api, f"{ENTITY}/{name}/data:v0")
    assert v0.type == "dataset" and set(v0.aliases) >= {"latest", "best"}
    assert v0.metadata == {"rows": 3}
    got = Path(v0.download(root=str(tmp_path / "got0")))
    assert _tree(got) == {**_tree(first), "a.txt": b"alpha one\n"}
    single = _artifact(api, f"{ENTITY}/{name}/single:latest")
    assert _tree(Path(single.download(root=str(tmp_path / "got1")))) == {
        "a.txt": b"alpha two\n"}

    with tracklet.init(name, dir=client_env) as run2:
        run2.log_artifact(second, name="data", type="dataset")
    v1 = _artifact(api, f"{ENTITY}/{name}/data:v1")
    assert _tree(Path(v1.download(root=str(tmp_path / "got2")))) == _tree(second)
    assert v1.digest != v0.digest

    # The same content again is no new version: its aliases move to the existing one.
    with tracklet.init(name, dir=client_env) as run3:
        run3.log_artifact(second, name="data", type="dataset", aliases=["again"])
    api.flush()
    versions = [a.version for a in api.artifacts("dataset", f"{ENTITY}/{name}/data")]
    assert sorted(versions) == ["v0", "v1"]
    assert "again" in _artifact(api, f"{ENTITY}/{name}/data:v1").aliases

    # use_artifact: the input edge, and the same bytes downloaded by the client.
    with tracklet.init(name, dir=client_env) as reader:
        used = reader.use_artifact("data:best")
        assert (used.name, used.version, used.type) == ("data", 0, "dataset")
        folder = used.download(tmp_path / "mine")
        assert _tree(folder) == _tree(got)
        assert _tree(used.download(tmp_path / "mine")) == _tree(got)  # already there
        with pytest.raises(tracklet.RunError, match="nope"):
            reader.use_artifact("nope:latest")
    api.flush()
    inputs = [a.name for a in api.run(f"{ENTITY}/{name}/{reader.id}").used_artifacts()]
    assert inputs == ["data:v0"]
    outputs = [a.name for a in api.run(f"{ENTITY}/{name}/{run.id}").logged_artifacts()]
    assert sorted(outputs) == ["data:v0", "single:v0"]


def test_offline_artifacts_upload_once_at_sync(client_env: Path, api: Any,
                                                live_server: LiveServer, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    name = project()
    data = _dataset(tmp_path / "d", "offline")
    with tracklet.init(name, dir=client_env) as online:
        online.log_artifact(data, name="base", type="dataset")
    with tracklet.init(name, mode="offline", dir=client_env) as run:
        run.log({"v": 1})
        run.log_artifact(data, name="ckpt", type="model", aliases=["step-1"])
        (data / "a.txt").write_text("second\n")
        tracklet.log_artifact(data, name="ckpt", type="model")  # the current run's
        used = tracklet.use_artifact("base:latest")
        assert used.id == "" and used.name == "base"
        run.use_artifact("ghost:v3")  # unknown to the server: skipped at sync, not fatal
    assert run.dir is not None and not is_synced(run.dir)
    creds = Credentials(live_server.url, live_server.key)
    assert sync_run(run.dir, creds).ok and is_synced(run.dir)
    assert "ghost:v3, which the server does not have" in capsys.readouterr().err
    assert sync_run(run.dir, creds).ok
    api.flush()
    versions = sorted(a.version for a in api.artifacts("model", f"{ENTITY}/{name}/ckpt"))
    assert versions == ["v0", "v1"]
    v0 = _artifact(api, f"{ENTITY}/{name}/ckpt:step-1")
    assert v0.version == "v0"
    assert _tree(Path(v0.download(root=str(tmp_path / "g0"))))["a.txt"] == b"alpha offline\n"
    v1 = _artifact(api, f"{ENTITY}/{name}/ckpt:v1")
    assert _tree(Path(v1.download(root=str(tmp_path / "g1")))) == _tree(data)
    remote = api.run(f"{ENTITY}/{name}/{run.id}")
    assert [a.name for a in remote.used_artifacts()] == ["base:v0"]
    assert sorted(a.name for a in remote.logged_artifacts()) == ["ckpt:v0", "ckpt:v1"]


def test_bad_artifact_requests_are_refused_in_the_caller(client_env: Path,
                                                         tmp_path: Path) -> None:
    with tracklet.init(project(), mode="offline", dir=client_env) as run:
        with pytest.raises(FileNotFoundError):
            run.log_artifact(tmp_path / "missing", name="x")
        with pytest.raises(ValueError, match="name"):
            run.log_artifact(tmp_path, name="a/b")
        with pytest.raises(ValueError, match="alias"):
            run.log_artifact(tmp_path, name="x", aliases=["latest"])
        with pytest.raises(ValueError, match="artifact name"):
            run.use_artifact("a/b/c/d")
