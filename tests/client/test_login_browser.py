"""``tracklet login`` end to end in headless Chromium: the server's /authorize page, opened
with a loopback callback, creates a key for the signed-in user and posts it (with the
state) to the waiting client, which stores it; a callback that is not 127.0.0.1 is refused.
"""

from __future__ import annotations

import queue
import stat
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from tests.ui.conftest import browser, new_ui_page, ui_assets, ui_server  # noqa: F401
from tracklet.client.credentials import FILE_NAME, Credentials, resolve
from tracklet.client.login import check_key, login
from tracklet.config import ClientSettings
from tracklet.testing import TrackletServer

TIMEOUT_MS = 30_000


def test_browser_login_delivers_a_new_key_to_the_loopback_callback(
        browser: Any, ui_server: TrackletServer, tmp_path: Path) -> None:  # noqa: F811
    settings = ClientSettings(config_dir=tmp_path / "config")
    urls: queue.Queue[str] = queue.Queue()
    outcome: dict[str, Any] = {}

    def run_login() -> None:
        try:
            outcome["creds"] = login(ui_server.url, open_url=lambda u: urls.put(u) is None,
                                     timeout=120, settings=settings, echo=lambda s: None)
        except Exception as exc:  # the assertion below shows it
            outcome["error"] = exc

    thread = threading.Thread(target=run_login)
    thread.start()
    url = urls.get(timeout=30)
    parsed = urllib.parse.urlsplit(url)
    params = urllib.parse.parse_qs(parsed.query)
    assert params["callback"][0].startswith("http://127.0.0.1:")
    assert len(params["state"][0]) >= 32

    context, ui = new_ui_page(browser, ui_server, tmp_path, authorized=False)
    page = ui.page
    # Not signed in: the page sends the browser to /login and back, query string kept.
    page.goto(url)
    page.wait_for_selector("#key-form", timeout=TIMEOUT_MS)
    page.fill("#key-form input[name=api_key]", ui_server.key)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("p.callback", timeout=TIMEOUT_MS)
    assert parsed.query in page.url
    assert page.input_value("input[name=name]") == "tracklet login"
    page.click("button[type=submit]")
    page.wait_for_selector("text=tracklet login received the key", timeout=TIMEOUT_MS)
    thread.join(30)
    context.close()
    assert "error" not in outcome, outcome.get("error")
    creds: Credentials = outcome["creds"]
    assert creds.api_key != ui_server.key and check_key(ui_server.url, creds.api_key) == "admin"
    assert stat.S_IMODE((tmp_path / "config" / FILE_NAME).stat().st_mode) == 0o600
    assert resolve(settings=settings) == creds
    assert ui.watch.errors == []


def test_authorize_refuses_a_callback_that_is_not_loopback(
        browser: Any, ui_server: TrackletServer, tmp_path: Path) -> None:  # noqa: F811
    context, ui = new_ui_page(browser, ui_server, tmp_path)
    page = ui.page
    for callback in ("http://evil.example:8000/callback", "https://127.0.0.1:9/callback",
                     "http://127.0.0.1/callback", "http://localhost:9/callback"):
        query = urllib.parse.urlencode({"callback": callback, "state": "s" * 40})
        page.goto(f"/authorize?{query}")
        page.wait_for_selector("p.error:has-text('Refusing to send a key')",
                               timeout=TIMEOUT_MS)
        assert page.locator("button[type=submit]").count() == 0
    page.goto("/authorize?" + urllib.parse.urlencode(
        {"callback": "http://127.0.0.1:9/callback"}))
    page.wait_for_selector("p.error:has-text('Refusing to send a key')", timeout=TIMEOUT_MS)
    context.close()
