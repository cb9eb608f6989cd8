"""Shared pieces: a throwaway ``tracklet server`` process and a wandb environment for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

KEY = "local-" + "bench" * 8 + "abcd"


@dataclass
class Server:
    """A running server: its URL, admin key and data folder."""

    url: str
    key: str
    data_dir: Path
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start ``python -m tracklet server`` on a fresh data dir; stop it afterwards."""
    root = Path(tempfile.mkdtemp(prefix="tracklet-bench-"))
    port = _free_port()
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracklet", "server", "--data-dir", str(root / "data"),
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "TRACKLET_ADMIN_KEY": KEY, **(extra_env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError((root / "server.log").read_text())
            time.sleep(0.2)
        yield Server(url, KEY, root / "data", proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def wandb_api(srv: Server, workdir: Path):  # type: ignore[no-untyped-def]
    """A ``wandb.Api()`` for ``srv`` with private dirs under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        del os.environ[key]
    os.environ.update({
        "WANDB_BASE_URL": srv.url, "WANDB_API_KEY": srv.key, "WANDB_DIR": str(workdir),
        "WANDB_CONFIG_DIR": str(workdir / ".config"), "WANDB_CACHE_DIR": str(workdir / "cache"),
        "WANDB_DATA_DIR": str(workdir / "data"), "WANDB_ERROR_REPORTING": "false",
        "WANDB_SILENT": "true", "NETRC": str(workdir / ".netrc"),
    })
    import wandb

    return wandb.Api(api_key=srv.key, overrides={"base_url": srv.url}, timeout=120)


def timed(fn):  # type: ignore[no-untyped-def]
    """(seconds, result) of calling ``fn()``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def append_section(title: str, body: str) -> None:
    """Replace (or add) the ``## title`` section of benchmarks/README.md."""
    path = Path(__file__).parent / "README.md"
    text = path.read_text() if path.exists() else (
        "# Benchmarks\n\nRun each with `python -m benchmarks.<name>`; every figure is a ratio "
        "against a floor or peer measured in the same run.\n")
    header = f"## {title}\n"
    if header in text:
        start = text.index(header)
        rest = text[start + len(header):]
        end = rest.find("\n## ")
        text = text[:start] + (rest[end + 1:] if end >= 0 else "")
    path.write_text(text.rstrip() + "\n\n" + header + "\n" + body.strip() + "\n")
