"""tracklet.testing's launcher: ready when /ready answers, an early exit or a server that
never answers fails with its log, stop ends the process (and its group)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tracklet import testing


def _http_server(root: Path, *, own_session: bool = False) -> testing.ServerProcess:
    """Python's static file server on ``root`` (``/ready`` answers 200 once ``root/ready``
    exists, 404 before)."""
    port = testing.free_port()
    return testing.launch([sys.executable, "-m", "http.server", str(port), "--bind",
                           "127.0.0.1", "--directory", str(root)], port, root / "server.log",
                          own_session=own_session)


def test_wait_ready_returns_once_ready_answers_200_and_stop_ends_it(tmp_path: Path) -> None:
    (tmp_path / "ready").write_text("ok")
    server = _http_server(tmp_path)
    try:
        server.wait_ready(timeout=30)
        assert server.answers("/ready")
        assert not server.answers("/missing")
    finally:
        server.stop()
    assert server.process.returncode is not None
    assert not server.answers("/ready")


def test_a_server_that_never_gets_ready_is_stopped_and_its_log_shown(tmp_path: Path) -> None:
    server = _http_server(tmp_path, own_session=True)
    with pytest.raises(testing.ServerFailed, match=r"(?s)did not become ready.*GET /ready"):
        server.wait_ready(timeout=1.5)
    assert server.process.poll() is not None


def test_an_early_exit_fails_at_once_with_the_exit_code_and_the_log(tmp_path: Path) -> None:
    port = testing.free_port()
    server = testing.launch([sys.executable, "-c", "import sys; sys.exit('no config here')"],
                            port, tmp_path / "log" / "server.log")
    with pytest.raises(testing.ServerFailed, match=r"(?s)exit code 1.*no config here"):
        server.wait_ready(timeout=60)


def test_start_server_reports_a_server_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(testing.ServerFailed, match="exited early") as failed:
        testing.start_server(tmp_path / "data", db="nosuchdb://nowhere", timeout=60)
    assert "nosuchdb" in str(failed.value)


def test_start_server_serves_with_the_given_key(tmp_path: Path) -> None:
    key = "local-" + "k" * 40
    server = testing.start_server(tmp_path / "data", key=key)
    try:
        assert server.answers("/ready")
        viewer = {"query": "{ viewer { username } }"}
        answer = httpx.post(f"{server.url}/graphql", json=viewer, auth=("api", key))
        assert answer.json()["data"]["viewer"]["username"] == "admin"
        wrong = httpx.post(f"{server.url}/graphql", json=viewer, auth=("api", "local-" + "x" * 40))
        assert wrong.status_code == 401
        assert server.settings().data_dir == tmp_path / "data"
        storage = server.storage()
        storage.close()
    finally:
        server.stop()
    assert server.process.returncode is not None
