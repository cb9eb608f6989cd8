"""Offline runs and ``tracklet sync``; a server that goes away mid-run; a training process
killed with SIGKILL. Every journaled row reaches the server exactly once, under the run's
own id, however often and wherever the upload is interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import tracklet
from tests.client.helpers import ENTITY, journal_rows, project, wait_acked
from tests.e2e.conftest import ADMIN_KEY, LiveServer, make_api, start_server
from tests.e2e.test_api_history import same_rows, wait_for_export
from tracklet import testing
from tracklet.client import sender as sender_module
from tracklet.client.credentials import Credentials
from tracklet.client.sync import find_runs, is_synced, sync_run
from tracklet.testing import TrackletServer

SRC = str(Path(tracklet.__file__).resolve().parent.parent)


def _tracklet(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracklet", *args], capture_output=True,
                          text=True, env={**env, "PYTHONPATH": SRC}, timeout=300)


def _history(api: Any, path: str) -> list[dict[str, Any]]:
    api.flush()
    return list(api.run(path).scan_history(page_size=50))


def test_offline_run_syncs_with_its_id_and_a_second_sync_adds_nothing(
        client_env: Path, api: Any, live_server: LiveServer) -> None:
    name = project()
    with tracklet.init(name, mode="offline", dir=client_env, config={"lr": 0.5},
                       tags=["off"]) as run:
        for i in range(30):
            run.log({"loss": 1 / (i + 1), "i": i})
        run.summary["final"] = "yes"
    assert run.dir is not None and run.dir.name.startswith("offline-run-")
    assert run.dir.name.endswith(run.id) and not (run.dir / "upload.json").exists()
    assert find_runs(client_env) == [run.dir]
    rows = journal_rows(run.dir)

    env = dict(os.environ)
    dry = _tracklet("sync", "--dry-run", "--all", str(client_env), env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"would send 30 rows\t{run.id}" in dry.stdout
    first = _tracklet("sync", str(run.dir), env=env)
    assert first.returncode == 0, first.stderr
    assert f"synced 30 rows\t{run.id}" in first.stdout
    path = f"{ENTITY}/{name}/{run.id}"
    assert same_rows(_history(api, path), rows)
    remote = api.run(path)
    assert remote.state == "finished" and dict(remote.config) == {"lr": 0.5}
    assert remote.summary["final"] == "yes" and remote.tags == ["off"]

    second = _tracklet("sync", "--all", str(client_env), env=env)
    assert second.returncode == 0, second.stderr
    assert f"synced 0 rows\t{run.id}" in second.stdout
    assert same_rows(_history(api, path), rows)
    assert api.run(path).lastHistoryStep == 29


def test_a_sync_interrupted_halfway_ends_with_every_row_once(
        client_env: Path, api: Any, live_server: LiveServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    name = project()
    with tracklet.init(name, mode="offline", dir=client_env) as run:
        for i in range(35):
            run.log({"v": i})
    assert run.dir is not None
    monkeypatch.setattr(sender_module, "MAX_LINES", 10)
    creds = Credentials(live_server.url, live_server.key)

    def interrupt(sent: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync_run(run.dir, creds, progress=interrupt)
    assert not is_synced(run.dir)
    path = f"{ENTITY}/{name}/{run.id}"
    assert [r["v"] for r in _history(api, path)] == list(range(10))
    assert api.run(path).state == "running"

    result = sync_run(run.dir, creds)
    assert (result.ok, result.rows) == (True, 25) and is_synced(run.dir)
    assert same_rows(_history(api, path), journal_rows(run.dir))
    assert api.run(path).state == "finished"
    assert sync_run(run.dir, creds).rows == 0


def test_server_down_mid_run_loses_nothing_and_never_stalls_log(
        client_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "server-data"
    server = start_server(data_dir)
    name = project()
    try:
        run = tracklet.init(name, dir=client_env, base_url=server.url, api_key=server.key)
        for i in range(20):
            run.log({"v": i})
        wait_acked(run, 20)
    finally:
        server.stop()
    # The server is gone: log() keeps its speed (it only queues), rows go to the journal.
    slowest = 0.0
    for i in range(20, 2000):
        start = time.perf_counter()
        run.log({"v": i})
        slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 0.05, f"log() took {slowest * 1e3:.1f} ms with the server down"
    run.finish(timeout=2)
    assert run.dir is not None and not is_synced(run.dir)
    assert len(journal_rows(run.dir)) == 2000

    server = start_server(data_dir)
    try:
        result = sync_run(run.dir, Credentials(server.url, server.key))
        assert (result.ok, result.rows) == (True, 1980)
        api = make_api(server, tmp_path / "api", monkeypatch)
        path = f"{ENTITY}/{name}/{run.id}"
        assert same_rows(_history(api, path), journal_rows(run.dir))
        assert api.run(path).state == "finished"
    finally:
        server.stop()


def _server_on_port(data_dir: Path, port: int) -> TrackletServer:
    """``tracklet server`` on ``data_dir`` at a given port (a restart at the same address)."""
    command = [sys.executable, "-m", "tracklet", "server", "--data-dir", str(data_dir),
               "--port", str(port)]
    started = testing.launch(command, port, data_dir / f"server-{time.monotonic_ns()}.log",
                             env={**os.environ, "TRACKLET_ADMIN_KEY": ADMIN_KEY})
    server = TrackletServer(started.url, started.process, started.log_path, key=ADMIN_KEY,
                            data_dir=data_dir, env={}, db="", blobs="")
    server.wait_ready(60)
    return server


def test_server_restarting_mid_run_gets_every_row_once_without_sync(
        client_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "server-data"
    server = start_server(data_dir)
    port = int(server.url.rsplit(":", 1)[1])
    name = project()
    run = tracklet.init(name, dir=client_env, base_url=server.url, api_key=server.key)
    try:
        for i in range(100):
            run.log({"v": i})
        wait_acked(run, 100)
    finally:
        server.stop()
    slowest = 0.0
    deadline = time.monotonic() + 5
    i = 100
    while time.monotonic() < deadline:  # 5 s of training with the server gone
        start = time.perf_counter()
        run.log({"v": i})
        slowest = max(slowest, time.perf_counter() - start)
        i += 1
        time.sleep(0.0005)
    assert slowest < 0.05, f"log() took {slowest * 1e3:.1f} ms with the server down"
    server = _server_on_port(data_dir, port)
    try:
        for j in range(i, i + 100):
            run.log({"v": j})
        run.finish(timeout=60)
        assert run.dir is not None and is_synced(run.dir)
        api = make_api(server, tmp_path / "api", monkeypatch)
        got = _history(api, f"{ENTITY}/{name}/{run.id}")
        assert [r["v"] for r in got] == list(range(i + 100))
        assert same_rows(got, journal_rows(run.dir))
    finally:
        server.stop()


def test_sigkill_mid_run_then_sync_delivers_every_journaled_row_once(
        client_env: Path, api: Any, live_server: LiveServer) -> None:
    name = project()
    script = textwrap.dedent(f"""
        import sys, tracklet
        run = tracklet.init({name!r}, dir={str(client_env)!r})
        print(run.dir, flush=True)
        i = 0
        while True:
            run.log({{"v": i, "pad": "x" * 200}})
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": SRC})
    try:
        assert proc.stdout is not None
        run_dir = Path(proc.stdout.readline().strip())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
                not (run_dir / "upload.json").exists() or len(journal_rows(run_dir)) < 5000):
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    rows = journal_rows(run_dir)
    assert len(rows) >= 5000
    result = sync_run(run_dir, Credentials(live_server.url, live_server.key))
    assert result.ok, result.error
    assert result.rows > 0, "the kill left nothing unsent: the test proved nothing"
    path = f"{ENTITY}/{name}/{run_dir.name.rsplit('-', 1)[1]}"
    got = _history(api, path)
    assert [r["v"] for r in got] == list(range(len(rows)))
    assert same_rows(got, rows)


def test_a_run_still_being_logged_is_not_synced(client_env: Path,
                                                live_server: LiveServer) -> None:
    run = tracklet.init(project(), mode="offline", dir=client_env)
    run.log({"v": 1})
    assert run.dir is not None
    result = sync_run(run.dir, Credentials(live_server.url, live_server.key))
    assert (result.ok, result.error) == (False, "the run is still being logged by another "
                                                "process")
    run.finish()
    assert sync_run(run.dir, Credentials(live_server.url, live_server.key)).rows == 1


def test_offline_resume_continues_after_the_servers_steps_at_sync(
        client_env: Path, api: Any, live_server: LiveServer) -> None:
    name = project()
    with tracklet.init(name, dir=client_env, id="offresume") as first:
        for i in range(5):
            first.log({"v": i, "old": True})
        first.summary["kept"] = "yes"
    with tracklet.init(name, mode="offline", dir=client_env, id="offresume",
                       resume="allow") as second:
        assert second.step == 0  # steps are relative until the sync
        for i in range(5, 8):
            second.log({"v": i})
        second.log({"v": 20}, step=10)
        second.summary["best"] = 1.5
    creds = Credentials(live_server.url, live_server.key)
    assert second.dir is not None
    result = sync_run(second.dir, creds)
    assert (result.ok, result.rows) == (True, 4), result.error
    assert sync_run(second.dir, creds).rows == 0
    path = f"{ENTITY}/{name}/offresume"
    wait_for_export(live_server, name, "offresume", 9)  # the compacted tier
    rows = _history(api, path)
    assert [(r["_step"], r["v"]) for r in rows] == [(i, i) for i in range(8)] + [(15, 20)]
    summary = dict(api.run(path).summary)
    assert (summary["v"], summary["_step"], summary["kept"], summary["best"]) == (
        20, 15, "yes", 1.5)
    assert summary["old"] is True  # a key only the earlier part logged stays

    # "must" of a missing run and "never" of an existing one are refused at sync,
    # and nothing is created or written.
    with tracklet.init(name, mode="offline", dir=client_env, id="offmissing",
                       resume="must") as missing:
        missing.log({"v": 1})
    with tracklet.init(name, mode="offline", dir=client_env, id="offresume",
                       resume="never") as never:
        never.log({"v": 1})
    assert missing.dir is not None and never.dir is not None
    refused = sync_run(missing.dir, creds)
    assert not refused.ok and "does not exist" in str(refused.error)
    refused = sync_run(never.dir, creds)
    assert not refused.ok and "exists" in str(refused.error)
    api.flush()
    assert [r.id for r in api.runs(f"{ENTITY}/{name}")] == ["offresume"]
    assert len(_history(api, path)) == 9
