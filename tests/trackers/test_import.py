"""``import tracklet.trackers`` stays light: no server stack, no backend SDK."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tracklet

SRC = str(Path(tracklet.__file__).resolve().parent.parent)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_import_does_not_load_server_stack_or_wandb() -> None:
    proc = _run(
        "import sys, tracklet.trackers\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'sqlalchemy', 'pyarrow', 'wandb') or m.startswith('tracklet.server')"
        " or m.startswith('tracklet.storage'))\n"
        "print(heavy)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_missing_wandb_raises_tracker_init_error(tmp_path: Path) -> None:
    proc = _run(
        "import sys\n"
        "sys.modules['wandb'] = None\n"
        "from tracklet.trackers import NoopAdapter, TrackerInitError, WandbAdapter\n"
        f"NoopAdapter({str(tmp_path)!r}).init_run(project='p')\n"
        "try:\n"
        f"    WandbAdapter(base_dir={str(tmp_path)!r})\n"
        "except TrackerInitError as exc:\n"
        "    print('TrackerInitError:', exc)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("TrackerInitError: the wandb backend needs the wandb package")
