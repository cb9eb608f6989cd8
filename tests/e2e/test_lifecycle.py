"""Run lifecycle with the real SDK: finished, failed, crashed, preempted, killed (stopped).

Crash detection gets its own server with a short heartbeat timeout, so a run that keeps
logging stays running well past that timeout while a SIGKILLed one turns crashed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer, SdkEnv, sdk_environment, start_server
from tests.e2e.storage_view import opened, run_path, stored_run, user_keys
from tracklet.domain.records import Run
from tracklet.storage.metadata import runs as run_repo

HEARTBEAT_TIMEOUT_S = 6.0


@pytest.fixture(scope="module")
def crash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that declares a run crashed after a few silent seconds."""
    server = start_server(
        tmp_path_factory.mktemp("crash-server"),
        env={
            "TRACKLET_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
            "TRACKLET_CRASH_CHECK_INTERVAL_S": "0.5",
        },
    )
    yield server
    server.stop()


def _run_row(server: LiveServer, entity: str, project: str, name: str) -> Run | None:
    with opened(server) as storage, storage.db.read() as conn:
        return run_repo.find_run_by_path(conn, entity, project, name)


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _start_script(env: dict[str, str], workdir: Path, code: str) -> subprocess.Popen[str]:
    script = workdir / f"live_{time.monotonic_ns()}.py"
    script.write_text(code)
    return subprocess.Popen([sys.executable, str(script)], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _reap(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc`` if it still runs, wait for it and close its pipes."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _first_run_line(proc: subprocess.Popen[str]) -> tuple[str, str, str]:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("RUN "):
            _, entity, project, run_id = line.split()
            return entity, project, run_id
    raise AssertionError(f"no RUN line; stderr:\n{proc.stderr.read() if proc.stderr else ''}")


LOG_FOREVER = """
import sys, time, wandb
run = wandb.init(project=sys.argv[1] if len(sys.argv) > 1 else "{project}",
                 settings=wandb.Settings(x_file_stream_transmit_interval=1))
{before}
print("RUN", run.entity, run.project, run.id, flush=True)
i = 0
while True:
    run.log({{"i": i}})
    i += 1
    time.sleep(0.05)
"""


def test_exception_exit_code_marks_run_failed(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    proc = sdk.run(
        """
        import wandb
        run = wandb.init(project="life-failed")
        print("RUN", run.entity, run.project, run.id, flush=True)
        for i in range(5):
            run.log({"i": i})
        raise RuntimeError("training blew up")
        """,
        expect_rc=1,
    )
    assert "training blew up" in proc.stderr
    entity, project, run_id = run_path(proc)
    stored = stored_run(sdk.server, entity, project, run_id)
    assert stored.run.state == "failed"
    assert stored.run.exit_code == 1
    assert [user_keys(r) for r in stored.history] == [{"i": i} for i in range(5)]
    assert api.run(f"{entity}/{project}/{run_id}").state == "failed"


def test_sys_exit_code_is_kept(sdk: SdkEnv) -> None:
    proc = sdk.run(
        """
        import sys, wandb
        run = wandb.init(project="life-exit")
        print("RUN", run.entity, run.project, run.id, flush=True)
        run.log({"i": 1})
        sys.exit(3)
        """,
        expect_rc=3,
    )
    stored = stored_run(sdk.server, *run_path(proc))
    assert (stored.run.state, stored.run.exit_code) == ("failed", 3)


def test_finish_with_exit_code_zero_and_heartbeat_times(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    started = time.time()
    proc = sdk.run(
        """
        import time, wandb
        run = wandb.init(project="life-ok")
        run.log({"i": 1})
        time.sleep(1.5)
        run.finish()
        print("RUN", run.entity, run.project, run.id)
        """
    )
    entity, project, run_id = run_path(proc)
    stored = stored_run(sdk.server, entity, project, run_id)
    assert (stored.run.state, stored.run.exit_code) == ("finished", 0)
    assert started <= stored.run.created_at < stored.run.heartbeat_at <= time.time()
    assert stored.summary["_wandb"]["runtime"] >= 1
    run = api.run(f"{entity}/{project}/{run_id}")
    assert run.state == "finished"
    assert run.heartbeat_at is not None


def test_killed_process_becomes_crashed_and_live_one_does_not(
    crash_server: LiveServer, tmp_path: Path
) -> None:
    env = sdk_environment(crash_server, tmp_path)
    victim = _start_script(env, tmp_path, LOG_FOREVER.format(project="life-crash", before=""))
    preempted = _start_script(
        env, tmp_path, LOG_FOREVER.format(project="life-preempt", before="run.mark_preempting()")
    )
    try:
        path = _first_run_line(victim)
        preempt_path = _first_run_line(preempted)
        # Alive and logging: stays running for well over the heartbeat timeout.
        alive_until = time.monotonic() + HEARTBEAT_TIMEOUT_S * 1.5
        while time.monotonic() < alive_until:
            row = _run_row(crash_server, *path)
            assert row is not None and row.state == "running"
            time.sleep(0.5)
        _wait_for(lambda: getattr(_run_row(crash_server, *preempt_path), "state", None)
                  == "preempting", 30, "preempting state")
        killed_at = time.time()
        victim.send_signal(signal.SIGKILL)
        preempted.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        preempted.wait(timeout=30)
        _wait_for(lambda: getattr(_run_row(crash_server, *path), "state", None) == "crashed",
                  HEARTBEAT_TIMEOUT_S + 30, "crashed state")
        _wait_for(lambda: getattr(_run_row(crash_server, *preempt_path), "state", None)
                  == "preempted", HEARTBEAT_TIMEOUT_S + 30, "preempted state")
    finally:
        for p in (victim, preempted):
            _reap(p)
    stored = stored_run(crash_server, *path)
    assert stored.run.exit_code is None
    assert stored.run.heartbeat_at <= killed_at + 1
    # Whatever reached the server before the kill is intact and contiguous.
    assert len(stored.history) > 10
    assert [user_keys(r) for r in stored.history] == [{"i": i} for i in range(len(stored.history))]


def test_stop_request_stops_the_sdk_run(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    proc = _start_script(sdk.env, sdk.workdir,
                         LOG_FOREVER.format(project="life-stop", before=""))
    try:
        entity, project, run_id = _first_run_line(proc)
        _wait_for(lambda: stored_run(sdk.server, entity, project, run_id).run.history_line_count
                  > 0, 30, "first history rows")
        api.run(f"{entity}/{project}/{run_id}").stop()
        assert _run_row(sdk.server, entity, project, run_id).stop_requested  # type: ignore[union-attr]
        proc.wait(timeout=120)
    finally:
        _reap(proc)
    assert proc.returncode != 0
    stored = stored_run(sdk.server, entity, project, run_id)
    assert stored.run.state == "killed"
    assert stored.run.exit_code not in (None, 0)
    assert not stored.run.stop_requested, "a stop is consumed once the run has ended"
    assert [user_keys(r) for r in stored.history] == [{"i": i} for i in range(len(stored.history))]


def test_git_commit_host_and_program_are_recorded(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=sdk.workdir, check=True)
    (sdk.workdir / "README").write_text("x\n")
    subprocess.run([*git, "add", "README"], cwd=sdk.workdir, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=sdk.workdir, check=True)
    subprocess.run(["git", "remote", "add", "origin", "https://example.com/repo.git"],
                   cwd=sdk.workdir, check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=sdk.workdir, check=True,
                         capture_output=True, text=True).stdout.strip()
    proc = sdk.run(
        """
        import wandb
        run = wandb.init(project="life-git")
        run.log({"i": 1})
        run.finish()
        print("RUN", run.entity, run.project, run.id)
        """,
        extra_env={"WANDB_DISABLE_GIT": "false"},
    )
    entity, project, run_id = run_path(proc)
    stored = stored_run(sdk.server, entity, project, run_id)
    assert stored.run.commit == sha
    assert stored.run.repo == "https://example.com/repo.git"
    assert stored.run.host == os.uname().nodename
    assert stored.run.program is not None and stored.run.program.endswith(".py")
    assert api.run(f"{entity}/{project}/{run_id}").commit == sha
