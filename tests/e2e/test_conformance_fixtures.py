"""The fixture service the SDK's own system tests use (scripts/conformance_fixtures.py) sets a
live server up as the tests expect: the API key ``U`` logs in as user ``U``, and an
organization made for ``U`` is theirs, read back through ``wandb.Api().organization()``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LiveServer, make_api

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "conformance_fixtures.py"
USER = "user_gw9-" + "0123456789abcdef" * 2 + "01234567"


@pytest.fixture
def fixture_service(live_server: LiveServer) -> Iterator[str]:
    """The fixture service on the live server's data folder; yields its URL."""
    assert live_server.data_dir is not None
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--data-dir", str(live_server.data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.communicate()


def _post(url: str, body: dict[str, Any]) -> None:
    response = httpx.post(url, json=body, timeout=30)
    assert response.status_code == 200, response.text


def test_fixture_users_and_organizations_read_back_through_the_sdk(
        live_server: LiveServer, fixture_service: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb
    from wandb.errors import CommError

    assert httpx.get(f"{fixture_service}/health").status_code == 200
    _post(f"{fixture_service}/db/user", {"command": "up", "username": USER, "admin": False})
    _post(f"{fixture_service}/db/user", {"command": "password", "username": USER,
                                         "password": USER, "admin": False})
    _post(f"{fixture_service}/db/organization",
          {"command": "up", "orgName": "org-gw9-conf", "username": USER})
    _post(f"{fixture_service}/db/user", {"command": "up", "username": USER + "b"})
    _post(f"{fixture_service}/db/organization",
          {"command": "add_members", "orgName": "org-gw9-conf",
           "fixtureData": {"members": [{"username": USER + "b", "role": "viewer"}]}})
    _post(f"{fixture_service}/db/team",
          {"command": "up", "username": USER, "fixtureData": {
              "planName": "plan-x", "team": {"name": "team-gw9-conf"},
              "organization": {"name": "org-gw9-conf"}}})

    make_api(live_server, tmp_path / "api", monkeypatch)
    api = wandb.Api(api_key=USER, overrides={"base_url": live_server.url}, timeout=60)
    assert api.viewer.username == USER
    assert api.default_entity == USER

    org = api.organization()  # the user's only organization
    named = api.organization("org-gw9-conf")
    assert org == named
    assert named.name == "org-gw9-conf"
    assert named.org_entity.entity_type == "organization"
    with pytest.raises((ValueError, CommError), match="not found"):
        api.organization("org-gw9-missing")
    assert "team-gw9-conf" in api.viewer.teams

    member_api = wandb.Api(api_key=USER + "b", overrides={"base_url": live_server.url},
                           timeout=60)
    assert member_api.organization("org-gw9-conf").name == "org-gw9-conf"
    # An unknown key is refused (the SDK's login tests expect that).
    with pytest.raises(Exception):  # noqa: B017 (the SDK's own error type varies)
        wandb.Api(api_key="X" * 40, overrides={"base_url": live_server.url}).viewer  # noqa: B018
