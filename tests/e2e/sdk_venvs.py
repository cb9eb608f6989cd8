"""The wandb SDK releases of the compatibility matrix, each in a virtualenv of its own.

A release other than the one pinned in the test environment gets a venv under
``.cache/compat/wandb-<version>`` at the repository root (gitignored), created by
:func:`sdk_python` on first use and reused while its requirements stay the same. The pinned
release runs from the test environment's own interpreter.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "compat"

#: The newest patch release of every third minor version from 0.19 on (the SDK of the last
#: two years), and the pinned one last. ``pip index versions wandb`` lists them.
MATRIX = ("0.19.11", "0.22.3", "0.25.1", "0.28.2", "0.31.0")

#: What the scenarios import beside wandb, at the test environment's versions.
EXTRAS = ("numpy", "pillow")


def pinned_version() -> str:
    """The wandb release installed in the test environment."""
    return importlib.metadata.version("wandb")


def requirements(version: str) -> list[str]:
    """What a venv for ``version`` holds: that wandb release and the scenarios' imports at the
    test environment's versions (pip resolves wandb's own dependencies for it)."""
    return [f"wandb=={version}",
            *(f"{name}=={importlib.metadata.version(name)}" for name in EXTRAS)]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (xdist workers share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sdk_python(version: str) -> Path:
    """The interpreter that runs wandb ``version``: the test environment's own for the
    pinned release, otherwise a cached venv, created (and filled from PyPI) when missing or
    when its requirements changed."""
    if version == pinned_version():
        return Path(sys.executable)
    venv = CACHE / f"wandb-{version}"
    python = venv / "bin" / "python"
    stamp = venv / ".requirements.json"
    wanted = requirements(version)
    with _locked(CACHE / f"wandb-{version}.lock"):
        if stamp.exists() and json.loads(stamp.read_text()) == wanted and python.exists():
            return python
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                       capture_output=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             "--only-binary=:all:", *wanted],
            capture_output=True, text=True, env=env, timeout=1200)
        if proc.returncode != 0:
            raise RuntimeError(f"installing {' '.join(wanted)} into {venv} failed:\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        installed = subprocess.run([str(python), "-c", "import wandb; print(wandb.__version__)"],
                                   capture_output=True, text=True, env=env, check=True)
        if installed.stdout.strip() != version:
            raise RuntimeError(f"{venv} imports wandb {installed.stdout.strip()!r}, "
                               f"not {version}")
        freeze = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True,
                                text=True, env=env, check=True)
        (venv / "freeze.txt").write_text(freeze.stdout)
        (venv / "install-seconds.txt").write_text(f"{time.monotonic() - started:.0f}\n")
        stamp.write_text(json.dumps(wanted))
    return python
