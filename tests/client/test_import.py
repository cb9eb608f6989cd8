"""``import tracklet`` is the light client: no server stack, no numpy/torch/jax, no wandb."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tracklet

SRC = str(Path(tracklet.__file__).resolve().parent.parent)


def test_import_tracklet_loads_no_server_stack_and_no_array_library() -> None:
    code = (
        "import sys, tracklet\n"
        "run = tracklet.init('p', mode='disabled')\n"
        "run.log({'x': 1})\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', "
        "'sqlalchemy', 'pyarrow', 'uvicorn', 'numpy', 'torch', 'jax', 'wandb', 'httpx') "
        "or m.startswith(('tracklet.server', 'tracklet.storage', 'tracklet.ingest')))\n"
        "print(heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_public_api_is_explicit() -> None:
    assert {"init", "log", "finish", "Run", "Tensor", "__version__"} <= set(tracklet.__all__)
    assert all(hasattr(tracklet, name) for name in tracklet.__all__)
