"""``tracklet login`` without a browser: a given or pasted key is checked and stored 0600;
the loopback listener takes one key with the right state only; the environment variables
(tracklet's and wandb's) are found."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import tracklet
from tests.client.helpers import project
from tests.e2e.conftest import LiveServer
from tracklet.client.credentials import FILE_NAME, LoginRequired, resolve
from tracklet.client.login import LoginError, LoopbackListener, login
from tracklet.config import ClientSettings


def _settings(tmp_path: Path) -> ClientSettings:
    return ClientSettings(config_dir=tmp_path / "config")


def test_a_given_key_is_checked_and_stored_0600(live_server: LiveServer,
                                                tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(LoginError, match="refused the API key"):
        login(live_server.url, key="local-" + "x" * 40, settings=settings, echo=lambda s: None)
    assert not (tmp_path / "config" / FILE_NAME).exists()
    said: list[str] = []
    creds = login(live_server.url + "/", key=live_server.key, settings=settings,
                  echo=said.append)
    path = tmp_path / "config" / FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert creds.base_url == live_server.url and "as admin" in said[-1]
    assert resolve(settings=settings) == creds


def test_headless_login_reads_a_pasted_key(live_server: LiveServer, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    said: list[str] = []
    creds = login(live_server.url, browser=False, prompt=lambda _: f" {live_server.key}\n",
                  echo=said.append, settings=settings)
    assert said[0] == f"Create an API key at {live_server.url}/authorize and paste it here."
    assert creds.api_key == live_server.key
    assert resolve(settings=settings).api_key == live_server.key


def test_no_browser_and_no_prompt_is_an_error(live_server: LiveServer, tmp_path: Path) -> None:
    with pytest.raises(LoginError, match="no API key"):
        login(live_server.url, open_url=lambda url: False, settings=_settings(tmp_path),
              echo=lambda s: None)


def _post(url: str, fields: dict[str, str]) -> int:
    data = urllib.parse.urlencode(fields).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_loopback_listener_takes_one_key_with_its_state() -> None:
    listener = LoopbackListener()
    try:
        assert listener.callback_url.startswith("http://127.0.0.1:")
        assert listener._server.server_address[0] == "127.0.0.1"
        assert _post(listener.callback_url, {"key": "stolen", "state": "guess"}) == 400
        assert _post(listener.callback_url, {"key": "", "state": listener.state}) == 400
        assert listener.wait(0.1) is None and listener.refused == 2
        assert _post(listener.callback_url, {"key": "the-key", "state": listener.state}) == 200
        assert listener.wait(1) == "the-key"
        assert _post(listener.callback_url, {"key": "again", "state": listener.state}) == 400
        assert listener.key == "the-key"
    finally:
        listener.close()


def test_the_browser_flow_times_out(live_server: LiveServer, tmp_path: Path) -> None:
    with pytest.raises(LoginError, match="no key arrived"):
        login(live_server.url, open_url=lambda url: True, timeout=0.5,
              settings=_settings(tmp_path), echo=lambda s: None)


def test_environment_variables_tracklet_first_then_wandb(tmp_path: Path) -> None:
    wandb_only = ClientSettings.from_env({"WANDB_API_KEY": "wk", "WANDB_BASE_URL": "http://w/"})
    assert (wandb_only.api_key, wandb_only.base_url) == ("wk", "http://w")
    both = ClientSettings.from_env({"WANDB_API_KEY": "wk", "WANDB_BASE_URL": "http://w",
                                    "TRACKLET_API_KEY": "tk", "TRACKLET_BASE_URL": "http://t",
                                    "TRACKLET_CONFIG_DIR": str(tmp_path)})
    assert (both.api_key, both.base_url, both.config_dir) == ("tk", "http://t", tmp_path)
    with pytest.raises(LoginRequired, match="tracklet login"):
        resolve(settings=_settings(tmp_path))


def test_init_uses_wandb_variables(live_server: LiveServer, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TRACKLET_API_KEY", "TRACKLET_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TRACKLET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("WANDB_BASE_URL", live_server.url)
    monkeypatch.setenv("WANDB_API_KEY", live_server.key)
    with tracklet.init(project(), dir=tmp_path) as run:
        run.log({"x": 1})
    assert run.url is not None and run.url.startswith(live_server.url)


def test_login_command_with_a_key(live_server: LiveServer, tmp_path: Path) -> None:
    src = str(Path(tracklet.__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WANDB_", "TRACKLET_"))}
    env.update({"PYTHONPATH": src, "TRACKLET_CONFIG_DIR": str(tmp_path / "cfg")})
    bad = subprocess.run([sys.executable, "-m", "tracklet", "login", live_server.url, "--key",
                          "local-" + "y" * 40], capture_output=True, text=True, env=env,
                         timeout=120)
    assert bad.returncode == 1 and "refused the API key" in bad.stderr
    ok = subprocess.run([sys.executable, "-m", "tracklet", "login", live_server.url, "--key",
                         live_server.key], capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert f"Logged in to {live_server.url} as admin" in ok.stdout
    path = tmp_path / "cfg" / FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve(settings=ClientSettings(config_dir=tmp_path / "cfg")).api_key == \
        live_server.key
