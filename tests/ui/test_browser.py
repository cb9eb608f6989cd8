"""The web UI in headless Chromium against a live server: the pages the wandb SDK's links
open, what they show (values compared), charts whose min-max band keeps a spike, and user
data that stays text."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.http_writer import HttpWriter
from tests.ui.conftest import UiPage, new_ui_page
from tracklet.testing import TrackletServer

ENTITY = "admin"
PROJECT = "ui-demo"
#: The SDK leaves "=+&$@" unencoded in the run links it prints: the page must still resolve.
SPIKY = "spiky=1+a&b$c@d"
STEPS = 5000
SPIKE_STEP = 2345
SPIKE = 1000.0
XSS_NAME = '<img src=x onerror="window.__xss=1;alert(1)">spiky'
XSS_CONFIG = "</td><script>window.__xss=2;alert(2)</script>"
TIMEOUT_MS = 20_000
# One worker runs them all, so Chromium starts once (see conftest's ``browser``).
pytestmark = pytest.mark.xdist_group("ui-browser")


def loss(step: int) -> float:
    """The spiky run's loss: a smooth curve with one spike."""
    return SPIKE if step == SPIKE_STEP else 1.0 / (step + 1)


@dataclass(frozen=True)
class Project:
    """Two runs logged through the wire protocol: a spiky one and a calm one."""

    spiky: str
    calm: str


@pytest.fixture(scope="module")
def project(ui_server: TrackletServer) -> Iterator[Project]:
    writer = HttpWriter(ui_server.url, ui_server.key)
    try:
        writer.create_run(ENTITY, PROJECT, SPIKY, display_name=XSS_NAME, tags=["baseline"],
                          config={"lr": 0.001, "batch": 64, "note": XSS_CONFIG})
        writer.log(ENTITY, PROJECT, SPIKY,
                   [{"loss": loss(s), "acc": s / STEPS} for s in range(STEPS)], finish=True)
        writer.create_run(ENTITY, PROJECT, "calm1", display_name="calm",
                          config={"lr": 0.01, "batch": 32, "note": "plain"})
        writer.log(ENTITY, PROJECT, "calm1",
                   [{"loss": 2.0 / (s + 1), "acc": 0.5} for s in range(200)], finish=True)
    finally:
        writer.close()
    yield Project(SPIKY, "calm1")


def sdk_urls(server: TrackletServer, run_id: str) -> tuple[str, str]:
    """The run and project links exactly as the wandb SDK prints them."""
    from wandb.sdk.wandb_settings import Settings

    settings = Settings(base_url=server.url, entity=ENTITY, project=PROJECT, run_id=run_id)
    return settings.run_url, settings.project_url


def chart_data(page: Any, key: str) -> list[list[float | None]]:
    """The columns uPlot draws for ``key`` (x, then per run last, min, max). A workspace
    panel is scrolled into view first (its charts are drawn when they come into view);
    charts outside the workspace's panels (the sweep page's) are drawn at once."""
    if not key.startswith("sweep:"):
        page.locator(f".panel[data-key={key!r}]").scroll_into_view_if_needed(
            timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => window.tracklet?.charts.has({key!r})", timeout=TIMEOUT_MS)
    data: list[list[float | None]] = page.evaluate(
        f"() => window.tracklet.charts.get({key!r}).data.map(c => Array.from(c))")
    return data


def assert_no_script_ran(ui: UiPage) -> None:
    assert ui.page.evaluate("() => window.__xss") is None
    assert ui.watch.dialogs == []
    assert ui.watch.errors == []


def test_the_run_page_the_sdk_links_to(ui_page: UiPage, project: Project) -> None:
    page = ui_page.page
    run_url, _ = sdk_urls(ui_page.server, project.spiky)
    assert run_url == f"{ui_page.server.url}/admin/ui-demo/runs/{SPIKY}"
    response = page.goto(run_url)
    assert response is not None and response.status == 200
    page.wait_for_selector("table.config", timeout=TIMEOUT_MS)

    # User data shows as the text it is.
    assert page.inner_text("h1.run-name") == XSS_NAME
    config = {row.get_attribute("data-key"): row.inner_text().split("\t", 1)[1]
              for row in page.query_selector_all("table.config tr")}
    assert config == {"lr": "0.001", "batch": "64", "note": XSS_CONFIG}
    summary = {row.get_attribute("data-key"): row.inner_text().split("\t", 1)[1]
               for row in page.query_selector_all("table.summary tr")}
    assert summary["acc"] == str((STEPS - 1) / STEPS)
    assert float(summary["loss"]) == pytest.approx(loss(STEPS - 1), rel=1e-5)
    assert page.inner_text("[data-fact=State]") == "finished"
    assert page.eval_on_selector_all("[data-fact=Tags] .tag",
                                     "els => els.map(e => e.dataset.tag)") == ["baseline"]

    # One chart per metric; the spike is in the band however wide the buckets are.
    assert sorted(el.get_attribute("data-key")
                  for el in page.query_selector_all(".panel")) == ["acc", "loss"]
    x, last, low, high = chart_data(page, "loss")
    assert len(x) < STEPS  # bucketed: many steps per point
    width = x[1] - x[0]
    assert width > 1
    top = max(v for v in high if v is not None)
    assert top == SPIKE
    at = high.index(top)
    assert x[at] <= SPIKE_STEP < x[at] + width
    assert min(v for v in low if v is not None) == pytest.approx(1 / STEPS)
    assert last[-1] == pytest.approx(loss(STEPS - 1))
    assert all(lo is None or (lo <= la <= hi)  # type: ignore[operator]
               for lo, la, hi in zip(low, last, high, strict=True))
    page.wait_for_selector(".panel[data-key=loss] canvas")
    ui_page.screenshot("run")

    # Zooming in fetches the range again at its own resolution: one step a point here.
    page.evaluate("() => window.tracklet.charts.get('loss').setScale('x', "
                  "{min: 2300, max: 2400})")
    page.wait_for_function("() => { const x = window.tracklet.charts.get('loss').data[0];"
                           " return x[0] >= 2300 && x[1] - x[0] === 1; }", timeout=TIMEOUT_MS)
    x, last, _, _ = chart_data(page, "loss")
    assert x[0] >= 2300 and x[-1] <= 2401
    assert last[x.index(SPIKE_STEP)] == SPIKE and last[x.index(SPIKE_STEP + 1)] == pytest.approx(
        loss(SPIKE_STEP + 1))
    ui_page.screenshot("run-zoomed")
    # A double click goes back to the whole run.
    page.dblclick(".panel[data-key=loss] .u-over")
    page.wait_for_function("() => window.tracklet.charts.get('loss').data[0][0] === 0",
                           timeout=TIMEOUT_MS)
    assert max(v for v in chart_data(page, "loss")[3] if v is not None) == SPIKE

    # A log y axis: the same points, the spike still on top.
    page.click(".panel[data-key=loss] button.log")
    page.wait_for_function("() => window.tracklet.charts.get('loss').scales.y.distr === 3",
                           timeout=TIMEOUT_MS)
    assert max(v for v in chart_data(page, "loss")[3] if v is not None) == SPIKE

    # The dark theme follows the system's preference.
    page.emulate_media(color_scheme="dark")
    page.reload()
    chart_data(page, "loss")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 23, 28)"
    ui_page.screenshot("run-dark")
    assert_no_script_ran(ui_page)


def test_the_workspace_the_sdk_links_to(ui_page: UiPage, project: Project) -> None:
    page = ui_page.page
    _, project_url = sdk_urls(ui_page.server, project.spiky)
    page.goto(project_url)
    page.wait_for_selector("table.grid tbody tr", timeout=TIMEOUT_MS)
    # Sorted by name (the runs were created within the same second).
    page.click("th[data-col=name] button")
    rows = page.query_selector_all("tbody tr")
    names = [r.query_selector("td:nth-child(2)").inner_text() for r in rows]
    assert names == [XSS_NAME, "calm"]  # "<" sorts before letters
    assert [r.get_attribute("data-run") for r in rows] == [SPIKY, "calm1"]
    headers = [h.inner_text().rstrip(" ▲▼") for h in page.query_selector_all("thead th")]
    assert headers[1:6] == ["Name", "State", "Created", "Runtime", "Tags"]
    assert {"lr", "batch", "note", "loss", "acc"} <= set(headers)

    # Both runs are selected at first: each chart draws both (3 columns a run after x).
    data = chart_data(page, "loss")
    assert len(data) == 1 + 3 * 2
    assert max(v for v in data[3] + data[6] if v is not None) == SPIKE
    ui_page.screenshot("workspace")

    # Sort by the summary's loss, ascending then descending.
    page.click("th[data-col='summary:loss'] button")
    order = [r.get_attribute("data-run") for r in page.query_selector_all("tbody tr")]
    assert order == [SPIKY, "calm1"]  # 1/5000 < 2/200
    page.click("th[data-col='summary:loss'] button")
    order = [r.get_attribute("data-run") for r in page.query_selector_all("tbody tr")]
    assert order == ["calm1", SPIKY]

    # Filter the table by name; search the metrics.
    page.fill("input.runs-filter", "CALM")
    assert [r.get_attribute("data-run") for r in page.query_selector_all("tbody tr")] == [
        "calm1"]
    page.fill("input.runs-filter", "")
    assert len(page.query_selector_all("tbody tr")) == 2
    page.fill("input.metric-search", "acc")
    assert page.is_hidden(".panel[data-key=loss]") and page.is_visible(".panel[data-key=acc]")
    page.fill("input.metric-search", "")
    assert page.is_visible(".panel[data-key=loss]")

    # Deselect the spiky run: the charts redraw with the calm one only.
    page.uncheck(f"tr[data-run='{SPIKY}'] input[type=checkbox]")
    page.wait_for_function("() => window.tracklet.charts.get('loss')?.data.length === 4",
                           timeout=TIMEOUT_MS)
    data = chart_data(page, "loss")
    assert max(v for v in data[3] if v is not None) == pytest.approx(2.0)
    assert_no_script_ran(ui_page)


def test_the_projects_list(ui_page: UiPage, project: Project) -> None:
    page = ui_page.page
    page.goto("/")
    page.wait_for_selector("table.projects", timeout=TIMEOUT_MS)
    row = page.query_selector(f"table.projects tr:has(a:text-is('{PROJECT}'))")
    assert row is not None
    cells = [c.inner_text() for c in row.query_selector_all("td")]
    assert cells[:3] == [PROJECT, ENTITY, "2"]
    ui_page.screenshot("projects")
    row.query_selector("a").click()
    page.wait_for_url("**/admin/ui-demo")


def _cookies(context: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in context.cookies()}


def test_sign_in_with_a_key_or_a_password_and_return(browser: Any, ui_server: TrackletServer,
                                                     tmp_path: Any) -> None:
    """The real sign-in: without credentials a page sends the browser to /login; the API key
    form starts a server-side session (HttpOnly cookie) and goes back where it came from; a
    user created with ``tracklet user create --password-stdin`` signs in with the password;
    a ``next`` that leaves the site is ignored (no open redirect)."""
    context, ui = new_ui_page(browser, ui_server, tmp_path, authorized=False)
    page = ui.page
    page.goto("/admin/somewhere")
    page.wait_for_url("**/login?next=%2Fadmin%2Fsomewhere", timeout=TIMEOUT_MS)
    page.wait_for_selector("#key-form")
    ui.screenshot("login")
    page.fill("#key-form input[name=api_key]", "wrong-key")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("p.error:has-text('Sign-in failed')", timeout=TIMEOUT_MS)
    assert "tracklet_session" not in _cookies(context)
    page.fill("#key-form input[name=api_key]", f"  {ui_server.key} ")
    page.click("#key-form button[type=submit]")
    page.wait_for_url("**/admin/somewhere", timeout=TIMEOUT_MS)
    session = _cookies(context)["tracklet_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert not _cookies(context)["tracklet_csrf"]["httpOnly"]
    context.close()

    subprocess.run([sys.executable, "-m", "tracklet", "user", "create", "ui-pw",
                    "--password-stdin", "--data-dir", str(ui_server.data_dir)],
                   input="a long enough password\n", text=True, check=True,
                   capture_output=True, timeout=120)
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        context, ui = new_ui_page(browser, ui_server, tmp_path, authorized=False)
        page = ui.page
        page.goto(f"/login?next={quote(evil, safe='')}")
        page.fill("#password-form input[name=username]", "ui-pw")
        page.fill("#password-form input[name=password]", "a long enough password")
        page.click("#password-form button[type=submit]")
        page.wait_for_url(f"{ui_server.url}/", timeout=TIMEOUT_MS)
        assert "tracklet_session" in _cookies(context)
        me = page.evaluate("() => fetch('/api/v1/auth/me').then(r => r.json())")
        assert me["username"] == "ui-pw" and me["signed_in_with"] == "session"
        context.close()


def test_authorize_creates_a_key_and_sign_out_ends_the_session(
        browser: Any, ui_server: TrackletServer, tmp_path: Any) -> None:
    """/authorize (where `wandb login` sends people) shows who is signed in and creates a
    named key (sent with the CSRF token) that then works as an API key; signing out ends
    the server-side session, so the old cookie no longer gets in."""
    context, ui = new_ui_page(browser, ui_server, tmp_path, authorized=False)
    page = ui.page
    page.goto("/login?next=%2Fauthorize")
    page.fill("#key-form input[name=api_key]", ui_server.key)
    page.click("#key-form button[type=submit]")
    page.wait_for_url("**/authorize", timeout=TIMEOUT_MS)
    page.wait_for_selector("input[name=name]", timeout=TIMEOUT_MS)
    page.fill("input[name=name]", "laptop-ui")
    page.click("button[type=submit]")
    page.wait_for_selector("input.key", timeout=TIMEOUT_MS)
    new_key = page.input_value("input.key")
    ui.screenshot("authorize")
    with httpx.Client(base_url=ui_server.url) as client:
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {new_key}"})
        assert me.status_code == 200 and "laptop-ui" in [k["name"] for k in me.json()["api_keys"]]
        old_session = _cookies(context)["tracklet_session"]["value"]
        page.click("header button:text-is('Sign out')")
        page.wait_for_url("**/login", timeout=TIMEOUT_MS)
        assert "tracklet_session" not in _cookies(context)
    with httpx.Client(base_url=ui_server.url,
                      cookies={"tracklet_session": old_session}) as replayer:
        assert replayer.get("/api/v1/auth/me").status_code == 401
    context.close()


def test_unknown_run_says_so(ui_page: UiPage, project: Project) -> None:
    page = ui_page.page
    page.goto("/admin/ui-demo/runs/nope")
    page.wait_for_selector("p.error", timeout=TIMEOUT_MS)
    assert "No run admin/ui-demo/nope" in page.inner_text("p.error")


SDK_SCRIPT = """
import wandb
run = wandb.init(project="ui-sdk", config={"lr": 0.01, "label": "<b>bold?</b>"})
for step in range(50):
    run.log({"loss": 1.0 / (step + 1)})
print("RUN_URL", run.url)
print("PROJECT_URL", run.project_url)
run.finish()
"""


def test_the_link_the_real_sdk_prints(ui_page: UiPage, tmp_path: Path) -> None:
    """The pinned wandb SDK logs a run and prints its link; the link opens that run."""
    from tests.e2e.conftest import sdk_environment

    workdir = tmp_path / "sdk"
    workdir.mkdir()
    script = workdir / "train.py"
    script.write_text(SDK_SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True,
                          text=True, timeout=300,
                          env=sdk_environment(ui_page.server, workdir))
    assert proc.returncode == 0, proc.stderr[-4000:]
    printed = dict(line.split(" ", 1) for line in proc.stdout.splitlines()
                   if line.startswith(("RUN_URL ", "PROJECT_URL ")))
    run_url = printed["RUN_URL"]
    assert run_url.startswith(f"{ui_page.server.url}/admin/ui-sdk/runs/")
    page = ui_page.page
    page.goto(run_url)
    page.wait_for_selector("table.config", timeout=TIMEOUT_MS)
    assert page.inner_text("table.config tr[data-key=lr] td") == "0.01"
    assert page.inner_text("table.config tr[data-key=label] td") == "<b>bold?</b>"
    assert float(page.inner_text("table.summary tr[data-key=loss] td")) == pytest.approx(1 / 50)
    x, last, _, _ = chart_data(page, "loss")
    assert x == list(range(50)) and last[0] == 1.0 and last[-1] == pytest.approx(1 / 50)
    ui_page.screenshot("sdk-run")
    page.goto(printed["PROJECT_URL"])
    page.wait_for_selector("tbody tr", timeout=TIMEOUT_MS)
    assert len(page.query_selector_all("tbody tr")) == 1
    assert_no_script_ran(ui_page)


def test_a_live_run_draws_new_points_without_a_reload(ui_page: UiPage,
                                                      ui_server: TrackletServer) -> None:
    writer = HttpWriter(ui_server.url, ui_server.key)
    try:
        writer.create_run(ENTITY, "ui-live", "live1")
        writer.log(ENTITY, "ui-live", "live1", [{"loss": 1.0} for _ in range(100)])
        page = ui_page.page
        page.goto("/admin/ui-live/runs/live1")
        assert len(chart_data(page, "loss")[0]) == 100
        assert page.inner_text("[data-fact=State]") == "running"
        page.evaluate("() => { window.__loaded = true; }")  # gone if the page reloads
        writer.log(ENTITY, "ui-live", "live1", [{"loss": 5.0} for _ in range(100)],
                   offset=100)
        page.wait_for_function(
            "() => window.tracklet.charts.get('loss').data[0].length === 200",
            timeout=TIMEOUT_MS)
        x, last, _, high = chart_data(page, "loss")
        assert x[-1] == 199 and last[-1] == 5.0 and max(v for v in high if v) == 5.0
        writer.finish(ENTITY, "ui-live", "live1")
        page.wait_for_function(
            "() => document.querySelector('[data-fact=State]').textContent === 'finished'",
            timeout=TIMEOUT_MS)
        assert page.evaluate("() => window.__loaded") is True
        ui_page.screenshot("live")
    finally:
        writer.close()
