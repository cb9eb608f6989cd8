"""``tracklet server --workers 2``: two processes on one port, on SQLite and on PostgreSQL +
S3; runs started at once through both store every row once, and the real SDK works."""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import S3_TEST_ENV, PostgresServer, S3Server
from tests.e2e.conftest import LiveServer, SdkEnv, make_api, sdk_environment, start_server
from tests.e2e.http_writer import HttpWriter
from tracklet.config import Settings

ROWS = 300


def _workers(server: LiveServer) -> list[int]:
    """The worker processes the server's supervisor spawned."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == server.process.pid and b"spawn_main" in cmdline and \
                b"resource_tracker" not in cmdline:
            found.append(int(pid))
    return found


def _answering_processes(server: LiveServer) -> set[str]:
    """Start times of the processes that answered /metrics over fresh connections."""
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # on a loaded machine one process may win many
        with httpx.Client(base_url=server.url, auth=("api", server.key)) as client:
            text = client.get("/metrics").text
        seen.update(line.split()[1] for line in text.splitlines()
                    if line.startswith("tracklet_process_start_time_seconds "))
        if len(seen) > 1:
            break
        time.sleep(0.05)
    return seen


def _burst(server: LiveServer, project: str, runs: int = 16) -> None:
    def one(i: int) -> None:
        writer = HttpWriter(server.url, server.key)
        name = f"w{i:02d}"
        writer.create_run("admin", project, name)
        for start in range(0, ROWS, 50):
            writer.log("admin", project, name, [{"v": i * 10_000 + s}
                                                 for s in range(start, start + 50)],
                       offset=start, finish=start + 50 == ROWS)
        writer.client.close()

    with ThreadPoolExecutor(runs) as pool:
        list(pool.map(one, range(runs)))


def _sign_in_limit_is_shared(server: LiveServer) -> None:
    """Wrong passwords sent over fresh connections (so both processes answer some) reach
    the deployment's limit, not twice it: the count lives in the database."""
    attempts = next(f.default for f in dataclasses.fields(Settings)
                    if f.name == "sign_in_attempts")
    codes = []
    for _ in range(attempts + 1):
        with httpx.Client(base_url=server.url) as client:
            codes.append(client.post("/api/v1/auth/login", json={
                "username": "admin", "password": "not the password"}).status_code)
    assert codes == [401] * attempts + [429], codes


def _check(server: LiveServer, project: str, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch, runs: int = 16) -> None:
    api = make_api(server, tmp_path / "api", monkeypatch)
    listed = {r.id: r for r in api.runs(f"admin/{project}")}
    assert sorted(listed) == [f"w{i:02d}" for i in range(runs)]
    for i in (0, runs - 1):
        rows = list(listed[f"w{i:02d}"].scan_history(keys=["v"]))
        assert [r["v"] for r in rows] == [i * 10_000 + s for s in range(ROWS)]


def test_two_workers_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_server(tmp_path / "data", args=("--workers", "2"))
    try:
        assert len(_workers(server)) == 2
        assert len(_answering_processes(server)) == 2, "both processes answer"
        _sign_in_limit_is_shared(server)
        _burst(server, "burst")
        _check(server, "burst", tmp_path, monkeypatch)
        work = tmp_path / "sdk"
        work.mkdir()
        sdk = SdkEnv(server, work, sdk_environment(server, work))
        sdk.run("""
            import wandb
            run = wandb.init(project="sdk", id="real")
            for i in range(200):
                run.log({"x": i})
            run.finish()
            """)
        api = make_api(server, tmp_path / "api2", monkeypatch)
        assert [r["x"] for r in api.run("admin/sdk/real").scan_history(keys=["x"])] == \
            list(range(200))
    finally:
        server.stop()


@pytest.mark.postgresql
@pytest.mark.s3
def test_two_workers_on_postgresql_and_s3(tmp_path: Path, postgres_server: PostgresServer,
                                          s3_server: S3Server,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    db = postgres_server.create_database()
    env = {**S3_TEST_ENV, "TRACKLET_S3_ENDPOINT_URL": s3_server.endpoint_url,
           "TRACKLET_SECRET_KEY": secrets.token_hex(32)}
    server = start_server(tmp_path / "data", env=env, db=db,
                          blobs=f"s3://{s3_server.create_bucket()}/w", args=("--workers", "2"))
    try:
        assert len(_workers(server)) == 2
        _burst(server, "burst")
        _check(server, "burst", tmp_path, monkeypatch)
    finally:
        server.stop()
        postgres_server.drop_database(db)
