"""A 200 MB artifact file goes up and comes back while the server's memory stays bounded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.artifact_helpers import result
from tests.e2e.conftest import LiveServer, SdkEnv, sdk_environment, start_server

SIZE = 200 * 1024 * 1024
RSS_LIMIT_KB = 300 * 1024


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A dedicated server, so its peak RSS reflects this test alone."""
    server = start_server(tmp_path / "data")
    yield server
    server.stop()


def _peak_rss_kb(server: LiveServer) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("VmHWM missing from /proc status")


def test_200mb_file_round_trip_with_bounded_memory(own_server: LiveServer,
                                                   tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    sdk = SdkEnv(own_server, work, sdk_environment(own_server, work))
    big = work / "big.bin"
    md5 = hashlib.md5()
    with big.open("wb") as f:
        block = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)
        for i in range(SIZE // len(block)):
            chunk = bytes([i % 251]) + block[1:]
            f.write(chunk)
            md5.update(chunk)
    proc = sdk.run(f"""
        import json, wandb
        run = wandb.init(project="big")
        art = wandb.Artifact("big", type="dataset")
        art.add_file({str(big)!r})
        run.log_artifact(art)
        art.wait()
        print("RESULT", json.dumps(run.entity))
        run.finish()
        """, timeout=900)
    entity = result(proc)
    dl = work / "dl"
    sdk.run(f"""
        import wandb
        wandb.Api().artifact("{entity}/big/big:v0").download(root={str(dl)!r})
        """, extra_env={"WANDB_CACHE_DIR": str(work / "fresh-cache")}, timeout=900)
    got = hashlib.md5()
    with (dl / "big.bin").open("rb") as f:
        while chunk := f.read(1 << 20):
            got.update(chunk)
    assert (dl / "big.bin").stat().st_size == SIZE
    assert got.hexdigest() == md5.hexdigest()
    peak = _peak_rss_kb(own_server)
    print(f"server peak RSS {peak / 1024:.0f} MB")
    assert peak < RSS_LIMIT_KB, f"server peak RSS {peak / 1024:.0f} MB"
