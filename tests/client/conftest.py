"""A live ``tracklet server`` and ``wandb.Api()`` on it (the e2e fixtures), and an
environment in which the light client finds that server and a private config dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer, api, live_server  # noqa: F401


@pytest.fixture
def client_env(live_server: LiveServer, tmp_path: Path,  # noqa: F811
               monkeypatch: pytest.MonkeyPatch) -> Path:
    """TRACKLET_BASE_URL / TRACKLET_API_KEY point at the live server; the stored login goes
    to a private folder. Returns the folder runs are written under."""
    for var in ("WANDB_API_KEY", "WANDB_BASE_URL", "TRACKLET_API_KEY", "TRACKLET_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TRACKLET_BASE_URL", live_server.url)
    monkeypatch.setenv("TRACKLET_API_KEY", live_server.key)
    monkeypatch.setenv("TRACKLET_CONFIG_DIR", str(tmp_path / "config"))
    runs = tmp_path / "runs"
    runs.mkdir()
    return runs
