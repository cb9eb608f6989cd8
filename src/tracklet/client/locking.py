"""A run directory's lock: held by the process writing the run, so ``tracklet sync`` leaves
a run that is still being logged alone. The OS drops it when the process dies (even kill -9).
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, sync trusts the user
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "lock"


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``<run dir>/lock``."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def try_acquire(cls, run_dir: Path) -> RunLock | None:
        """The lock, or None when another process holds it."""
        fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return None
        return cls(fd)

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """The lock of a run directory this process just created."""
        lock = cls.try_acquire(run_dir)
        if lock is None:
            raise RuntimeError(f"{run_dir} is in use by another process")
        return lock

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
