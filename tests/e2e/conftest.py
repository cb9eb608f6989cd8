"""A live ``tracklet server`` process and the real wandb SDK pointed at it.

Every e2e test talks to the server over HTTP exactly as a user's script would: training code
runs in a subprocess (``run_sdk``), and results are read back through ``wandb.Api()`` in the
test process and straight from storage (``live_server.storage()``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tracklet import testing
from tracklet.testing import TrackletServer

ADMIN_KEY = "local-" + "e2e0" * 10 + "abcd"


#: A running ``tracklet server`` process (tracklet.testing's, under the name e2e tests use).
LiveServer = TrackletServer


def start_server(data_dir: Path, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = (), *, db: str = "", blobs: str = "",
                 wait: bool = True) -> LiveServer:
    """Start ``python -m tracklet server`` on a free port with :data:`ADMIN_KEY` and (unless
    ``wait`` is False) wait until it answers; see :func:`tracklet.testing.start_server`.

    ``db`` and ``blobs`` become ``--db`` / ``--blobs`` (e.g. a PostgreSQL URL and
    ``s3://bucket/prefix``); ``env`` adds variables such as ``TRACKLET_S3_ENDPOINT_URL`` and
    the AWS credentials.
    """
    return testing.start_server(data_dir, key=ADMIN_KEY, env=env, args=args, db=db,
                                blobs=blobs, wait=wait)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per test session (per xdist worker); tests use their own projects."""
    server = start_server(tmp_path_factory.mktemp("tracklet-data"))
    yield server
    server.stop()


@dataclass
class SdkEnv:
    """Environment for running wandb SDK code against the live server."""

    server: LiveServer
    workdir: Path
    env: dict[str, str]
    #: The interpreter that runs the scripts: the test environment's, or the venv of another
    #: SDK release (tests/e2e/sdk_venvs.py).
    python: Path = Path(sys.executable)

    def run(self, code: str, *, expect_rc: int | None = 0, timeout: float = 300,
            extra_env: dict[str, str] | None = None,
            args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        """Run ``code`` (dedented) as a script in a subprocess with this environment."""
        script = self.workdir / f"script_{time.monotonic_ns()}.py"
        script.write_text(textwrap.dedent(code))
        proc = subprocess.run(
            [str(self.python), str(script), *args],
            cwd=self.workdir,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if expect_rc is not None and proc.returncode != expect_rc:
            raise AssertionError(
                f"script exited {proc.returncode}, expected {expect_rc}\n"
                f"--- stdout\n{proc.stdout[-5000:]}\n--- stderr\n{proc.stderr[-8000:]}"
            )
        return proc

    def cli(self, *args: str, expect_rc: int | None = 0,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run the ``wandb`` command line with this environment."""
        proc = subprocess.run(
            [str(self.python.parent / "wandb"), *args],
            cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=timeout,
        )
        if expect_rc is not None and proc.returncode != expect_rc:
            raise AssertionError(f"wandb {args} exited {proc.returncode}\n{proc.stdout}\n"
                                 f"{proc.stderr}")
        return proc


def sdk_environment(server: LiveServer, workdir: Path) -> dict[str, str]:
    """A clean WANDB_* environment pointing at ``server``, with private dirs under workdir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update({
        "WANDB_BASE_URL": server.url,
        "WANDB_API_KEY": server.key,
        "WANDB_DIR": str(workdir),
        "WANDB_CONFIG_DIR": str(workdir / ".config"),
        "WANDB_CACHE_DIR": str(workdir / ".cache"),
        "WANDB_DATA_DIR": str(workdir / ".data"),
        "WANDB_ARTIFACT_DIR": str(workdir / "artifacts"),
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_SILENT": "true",
        "WANDB_DISABLE_GIT": "true",
        "WANDB__DISABLE_STATS": "false",
        "NETRC": str(workdir / ".netrc"),
        "HOME": str(workdir),
    })
    return env


@pytest.fixture
def sdk(live_server: LiveServer, tmp_path: Path) -> SdkEnv:
    """Run SDK scripts in subprocesses against the session's live server."""
    return SdkEnv(live_server, tmp_path, sdk_environment(live_server, tmp_path))


def make_api(server: LiveServer, workdir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A ``wandb.Api()`` in the test process, reading from ``server``."""
    import wandb

    for k, v in sdk_environment(server, workdir).items():
        if k.startswith("WANDB_") or k in ("NETRC",):
            monkeypatch.setenv(k, v)
    workdir.mkdir(parents=True, exist_ok=True)
    return wandb.Api(api_key=server.key, overrides={"base_url": server.url}, timeout=60)


@pytest.fixture
def api(live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A ``wandb.Api()`` in the test process, reading from the live server."""
    return make_api(live_server, tmp_path / "api", monkeypatch)
