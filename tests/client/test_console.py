"""Console capture: printed lines reach the server as the run's output.log (file_stream
lines, stored by line index, and the output.log run file), offline ones through sync."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import tracklet
from tests.client.helpers import ENTITY, project
from tests.e2e.conftest import LiveServer
from tracklet.storage.history.live.read import console_lines
from tracklet.storage.metadata import runs as run_repo

SRC = str(Path(tracklet.__file__).resolve().parent.parent)
LINE = re.compile(r"^(ERROR )?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)? (.*)$")


def _script(name: str, runs: Path, mode: str) -> str:
    return textwrap.dedent(f"""
        import sys, tracklet
        run = tracklet.init({name!r}, dir={str(runs)!r}, mode={mode!r})
        print(run.id, flush=True)
        for i in range(3):
            print(f"epoch {{i}}")
            run.log({{"v": i}})
        print("oops", file=sys.stderr)
        sys.stdout.write("progress 10%\\rprogress 100%\\n")
        run.finish()
        print("after the run")
    """)


def _stored(live_server: LiveServer, name: str, run_id: str) -> list[str]:
    storage = live_server.storage()
    try:
        with storage.db.read() as conn:
            pk = run_repo.get_run_by_path(conn, ENTITY, name, run_id).id
            return [text for _, text in console_lines(conn, pk)]
    finally:
        storage.close()


def _texts(lines: list[str]) -> list[tuple[bool, str]]:
    out = []
    for line in lines:
        match = LINE.match(line)
        assert match, line
        out.append((match[1] is not None, match[3]))
    return out


def _expected(run_id: str) -> list[tuple[bool, str]]:
    return [(False, run_id), *EXPECTED]


EXPECTED = [(False, "epoch 0"), (False, "epoch 1"), (False, "epoch 2"), (True, "oops"),
            (False, "progress 100%")]


def test_printed_lines_become_the_runs_output_log(client_env: Path, api: Any,
                                                  live_server: LiveServer,
                                                  tmp_path: Path) -> None:
    name = project()
    proc = subprocess.run([sys.executable, "-c", _script(name, client_env, "online")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC},
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split()[0]
    assert "epoch 2" in proc.stdout and "after the run" in proc.stdout and "oops" in proc.stderr
    assert _texts(_stored(live_server, name, run_id)) == _expected(run_id)
    remote = api.run(f"{ENTITY}/{name}/{run_id}")
    remote.file("output.log").download(root=str(tmp_path / "dl")).close()
    got = (tmp_path / "dl" / "output.log").read_text().splitlines()
    assert _texts(got) == _expected(run_id)


def test_offline_console_syncs(client_env: Path, live_server: LiveServer) -> None:
    name = project()
    proc = subprocess.run([sys.executable, "-c", _script(name, client_env, "offline")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC},
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split()[0]
    synced = subprocess.run([sys.executable, "-m", "tracklet", "sync", "--all", str(client_env)],
                            capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": SRC}, timeout=120)
    assert synced.returncode == 0, synced.stderr
    assert _texts(_stored(live_server, name, run_id)) == _expected(run_id)
