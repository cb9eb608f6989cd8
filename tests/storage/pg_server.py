"""A throwaway PostgreSQL server for tests that must run on both metadata backends.

Uses Debian's (or a local) ``initdb``/``pg_ctl``; as root it runs them as the ``postgres``
user. Tests skip when no PostgreSQL binaries are installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def available() -> bool:
    """Whether a PostgreSQL server can be started here."""
    return _binary("initdb") is not None and _binary("pg_ctl") is not None


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_url() -> Iterator[str]:
    """Start a fresh cluster and yield a SQLAlchemy URL for it; stop and delete it after."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    assert initdb and pg_ctl
    root = Path(tempfile.mkdtemp(prefix="tracklet-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    try:
        subprocess.run(_as_postgres([initdb, "-D", str(data), "-U", "tracklet", "-A", "trust",
                                     "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True)
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w",
                                     "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
                                     " -c fsync=off", "start"]),
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://tracklet@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
