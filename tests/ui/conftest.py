"""Headless Chromium (Debian's, /usr/bin/chromium) driving the real web UI of a live server.

* ``ui_assets``: the front end built from ``frontend/`` (``scripts/build_ui.py``, which does
  nothing when the build is fresh). Without Node.js/npm the tests fail with the fix.
* ``ui_server``: a ``tracklet server`` process with a known admin key (one per session).
* ``browser``: Playwright for Python driving ``/usr/bin/chromium`` (one per module); never
  a downloaded browser. When chromium is missing the tests fail (not skip) naming
  ``scripts/system-deps.sh``, as the PostgreSQL tests do, so green means the UI was driven.
* ``ui_page``: a fresh browser page that sends the admin key as ``Authorization: Bearer``
  (every API route takes it, besides a session cookie) and records page errors, dialogs and
  console errors for the assertions.
"""

from __future__ import annotations

import importlib.util
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3_TEST_ENV
from tracklet.testing import TrackletServer, start_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
UI_KEY = "local-" + "ui00" * 10 + "abcd"


def run_sdk_script(server: TrackletServer, workdir: Path, script: str,
                   *args: str) -> list[str]:
    """Run ``script`` (saved as ``train.py`` in ``workdir``) with the real wandb SDK against
    ``server``; returns the words after ``IDS`` in the line the script prints."""
    from tests.e2e.conftest import sdk_environment

    (workdir / "train.py").write_text(script)
    proc = subprocess.run([sys.executable, "train.py", *args], cwd=workdir,
                          capture_output=True, text=True, timeout=600,
                          env=sdk_environment(server, workdir))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return next(x for x in proc.stdout.splitlines() if x.startswith("IDS ")).split()[1:]


@pytest.fixture(scope="session")
def ui_assets() -> None:
    """The web UI built from the sources (fails, never skips, when it cannot be)."""
    spec = importlib.util.spec_from_file_location("build_ui", ROOT / "scripts" / "build_ui.py")
    assert spec is not None and spec.loader is not None
    build_ui = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_ui)
    try:
        build_ui.build()
    except build_ui.BuildFailed as exc:
        pytest.fail(f"cannot build the web UI: {exc}")


@pytest.fixture(scope="session")
def ui_server(ui_assets: None, tmp_path_factory: pytest.TempPathFactory,
              ) -> Iterator[TrackletServer]:
    """A live server (one per session and xdist worker); tests use projects of their own."""
    server = start_server(tmp_path_factory.mktemp("ui-data"), key=UI_KEY)
    yield server
    server.stop()


def team_server(request: pytest.FixtureRequest, tmp: Path) -> Iterator[TrackletServer]:
    """A live server on PostgreSQL + S3 (moto), the second storage tier of the media tests:
    a generator yielding the server once, stopping it and dropping its database after."""
    postgres = request.getfixturevalue("postgres_server")
    s3 = request.getfixturevalue("s3_server")
    db = postgres.create_database()
    bucket = s3.create_bucket()
    env = {**S3_TEST_ENV, "TRACKLET_S3_ENDPOINT_URL": s3.endpoint_url,
           "TRACKLET_SECRET_KEY": secrets.token_hex(32)}
    server = start_server(tmp, env=env, db=db, blobs=f"s3://{bucket}/ui")
    try:
        yield server
    finally:
        server.stop()
        postgres.drop_database(db)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium under Playwright, for one module: Playwright's sync API keeps an
    event loop running on the main thread while it is open, which would break the asyncio
    tests that run after it in the same process."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps.sh (apt-get install "
                    "chromium); the UI tests never download a browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class PageWatch:
    """What a page did that a test must see: uncaught errors, dialogs, console errors."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@dataclass
class UiPage:
    """A browser page on ``server`` and what it did."""

    page: Any
    server: TrackletServer
    watch: PageWatch
    shots: Path

    def screenshot(self, name: str) -> Path:
        """Save the whole page as ``<test tmp dir>/screenshots/<name>.png``."""
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def new_ui_page(browser: Any, server: TrackletServer, tmp_path: Path,
                authorized: bool = True) -> tuple[Any, UiPage]:
    """A new browser context and page (with the admin key as a Bearer header unless
    ``authorized`` is False)."""
    headers = {"Authorization": f"Bearer {server.key}"} if authorized else {}
    context = browser.new_context(base_url=server.url, extra_http_headers=headers,
                                  viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watch = PageWatch()
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    page.on("console", lambda msg: watch.console_errors.append(msg.text)
            if msg.type == "error" else None)

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    shots = tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    return context, UiPage(page, server, watch, shots)


@pytest.fixture
def ui_page(browser: Any, ui_server: TrackletServer, tmp_path: Path) -> Iterator[UiPage]:
    """A fresh page authenticated with the admin's API key."""
    context, page = new_ui_page(browser, ui_server, tmp_path)
    yield page
    context.close()
