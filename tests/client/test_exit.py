"""A script that exits without ``finish()``: the atexit hook flushes the uploader and ends
the run finished, or failed after an uncaught exception."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import tracklet
from tests.client.helpers import ENTITY, project

SRC = str(Path(tracklet.__file__).resolve().parent.parent)


@pytest.mark.parametrize(("tail", "rc", "state"), [
    ("", 0, "finished"),
    ("raise SystemExit(0)", 0, "finished"),
    ("raise ValueError('training broke')", 1, "failed"),
])
def test_exit_without_finish(client_env: Path, api: Any, tail: str, rc: int,
                             state: str) -> None:
    name = project()
    script = textwrap.dedent(f"""
        import tracklet
        run = tracklet.init({name!r}, dir={str(client_env)!r})
        print(run.id, flush=True)
        for i in range(500):
            tracklet.log({{"v": i}})
        {tail}
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC}, timeout=120)
    assert proc.returncode == rc, proc.stderr
    run_id = proc.stdout.split()[0]
    api.flush()
    remote = api.run(f"{ENTITY}/{name}/{run_id}")
    assert remote.state == state
    assert [r["v"] for r in remote.scan_history(page_size=1000)] == list(range(500))
