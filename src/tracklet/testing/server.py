"""Start an HTTP server as a subprocess, wait until it is ready, stop it.

Only the standard library is used to talk to the server (``http.client``, never a proxy), so
the package needs nothing beyond tracklet's own dependencies. :func:`start_server` hands the
caller's environment on to the server process; it reads no setting from it (that is
``tracklet.config``'s job, in the server).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tracklet.config import Settings
from tracklet.storage import Storage

#: The admin API key :func:`start_server` seeds (``TRACKLET_ADMIN_KEY``) unless given another.
DEFAULT_KEY = "local-" + "test" * 10 + "abcd"


class ServerFailed(RuntimeError):
    """A server exited before it became ready, or did not become ready in time; the message
    ends with everything it printed."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at the moment (the OS's choice of an ephemeral one)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """An HTTP server running as a subprocess, its output going to ``log_path``."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    #: Started in a session of its own: :meth:`stop` signals the whole process group, so
    #: worker processes the server forked stop too.
    own_session: bool = False

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")

    def answers(self, path: str = "/ready") -> bool:
        """Whether ``GET path`` answers 200 right now."""
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=2)
        try:
            conn.request("GET", path)
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def wait_ready(self, timeout: float = 60, path: str = "/ready") -> None:
        """Block until ``GET path`` answers 200.

        Raises :class:`ServerFailed` with the server's log if the process exits first or
        ``timeout`` seconds pass; in the second case the process is stopped first.
        """
        deadline = time.monotonic() + timeout
        while True:
            code = self.process.poll()
            if code is not None:
                raise ServerFailed(f"server exited early (exit code {code}):\n{self.log()}")
            if self.answers(path):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(f"server did not become ready in {timeout:g} s:\n"
                                   f"{self.log()}")
            time.sleep(0.2)

    def stop(self, timeout: float = 20) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after ``timeout`` seconds) and wait
        for it."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()

    def _signal(self, sig: signal.Signals) -> None:
        if self.own_session:
            with contextlib.suppress(ProcessLookupError):  # the group is already gone
                os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)


def launch(command: Sequence[str], port: int, log_path: Path, *,
           env: Mapping[str, str] | None = None, cwd: Path | None = None,
           own_session: bool = False) -> ServerProcess:
    """Run ``command`` (a server that will listen on ``port`` on loopback) with its output
    written to ``log_path``; returns at once (call :meth:`ServerProcess.wait_ready`).

    ``env`` replaces the environment when given; ``own_session`` starts it in a new session
    (see :attr:`ServerProcess.own_session`).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT,
                                   env=dict(env) if env is not None else None, cwd=cwd,
                                   start_new_session=own_session)
    return ServerProcess(f"http://127.0.0.1:{port}", process, log_path, own_session)


@dataclass
class TrackletServer(ServerProcess):
    """A ``tracklet server`` process on its own data dir, with a known admin key."""

    key: str = DEFAULT_KEY
    data_dir: Path = field(default_factory=Path)
    #: The variables given to :func:`start_server` on top of the inherited environment.
    env: dict[str, str] = field(default_factory=dict)
    db: str = ""
    blobs: str = ""

    def settings(self) -> Settings:
        """Settings naming the same stores the server uses."""
        return Settings(data_dir=self.data_dir, db=self.db, blobs=self.blobs,
                        s3_endpoint_url=self.env.get("TRACKLET_S3_ENDPOINT_URL", ""))

    def storage(self) -> Storage:
        """The server's own store, opened by the caller without running migrations."""
        return Storage.open(self.settings(), migrate=False)


def start_server(data_dir: Path, *, key: str = DEFAULT_KEY, env: Mapping[str, str] | None = None,
                 args: Sequence[str] = (), db: str = "", blobs: str = "", wait: bool = True,
                 timeout: float = 60) -> TrackletServer:
    """Start ``python -m tracklet server`` on a free port with ``data_dir`` (created if
    missing; the log goes to ``data_dir/server.log``) and, unless ``wait`` is False, wait
    until ``/ready`` answers.

    ``key`` becomes ``TRACKLET_ADMIN_KEY``; ``env`` adds variables (and may override that
    one), e.g. ``TRACKLET_S3_ENDPOINT_URL`` and AWS credentials; ``db`` and ``blobs`` become
    ``--db`` / ``--blobs``; ``args`` are further command-line options. If the server fails
    to start it is stopped and :class:`ServerFailed` carries its log.
    """
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    extra = dict(env or {})
    command = [sys.executable, "-m", "tracklet", "server", "--data-dir", str(data_dir),
               "--port", str(port)]
    command += [*(("--db", db) if db else ()), *(("--blobs", blobs) if blobs else ()), *args]
    started = launch(command, port, data_dir / "server.log",
                     env={**os.environ, "TRACKLET_ADMIN_KEY": key, **extra})
    server = TrackletServer(started.url, started.process, started.log_path, key=key,
                            data_dir=data_dir, env=extra, db=db, blobs=blobs)
    if wait:
        try:
            server.wait_ready(timeout)
        except BaseException:
            server.stop()
            raise
    return server
