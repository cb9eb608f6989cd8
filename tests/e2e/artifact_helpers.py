"""Shared helpers for the artifact and media e2e tests."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import LiveServer


def result(proc: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a script printed after ``RESULT `` (its last such line)."""
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"no RESULT line\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def md5_b64(data: bytes) -> str:
    """W&B's file digest: base64 of the MD5."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Create ``files`` (relative path -> bytes) under ``root``."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative slash path."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def gql(server: LiveServer, query: str, variables: dict[str, Any] | None = None,
        key: str | None = None) -> dict[str, Any]:
    """POST one GraphQL document as the SDK would (Basic auth ``api:<key>``)."""
    resp = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": variables},
                      auth=("api", key or server.key), timeout=60)
    body: dict[str, Any] = resp.json()
    if body.get("errors") and not any((body.get("data") or {}).values()):
        # A failed operation is a clear client error, never a 200 or a 500.
        assert 400 <= resp.status_code < 500, resp.text
    else:
        assert resp.status_code == 200, resp.text
    return body
