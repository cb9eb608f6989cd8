"""The runs table's resizable columns and the light/dark theme toggle, in headless
Chromium against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.http_writer import HttpWriter
from tests.ui.conftest import UiPage
from tests.ui.test_browser import TIMEOUT_MS
from tracklet.testing import TrackletServer

pytestmark = pytest.mark.xdist_group("ui-browser")

PROJECT = "ui-columns"
LONG_NAME = "a-run-name-long-enough-to-be-cut-by-the-column-" + "x" * 40


@pytest.fixture(scope="module")
def project(ui_server: TrackletServer) -> Iterator[str]:
    writer = HttpWriter(ui_server.url, ui_server.key)
    try:
        for i in range(3):
            writer.create_run("admin", PROJECT, f"col{i}", display_name=f"{LONG_NAME}{i}",
                              config={"lr": 0.1 * (i + 1)})
            writer.log("admin", PROJECT, f"col{i}", [{"loss": 1.0 / (s + 1)} for s in range(5)],
                       finish=True)
        yield f"/admin/{PROJECT}"
    finally:
        writer.close()


def widths(page: Any, col: str) -> tuple[float, list[float]]:
    """The header's width of ``col`` and its cells' widths, in pixels."""
    index = page.eval_on_selector_all(
        "thead th", f"ths => ths.findIndex(t => t.dataset.col === {col!r})")
    head = page.evaluate(f"() => document.querySelector('th[data-col={col}]')"
                         ".getBoundingClientRect().width")
    cells = page.eval_on_selector_all(
        "tbody tr[data-run]", f"rows => rows.map(r => r.cells[{index}]"
        ".getBoundingClientRect().width)")
    return head, cells


def test_a_column_is_resized_by_dragging_its_header_edge(ui_page: UiPage, project: str
                                                         ) -> None:
    page = ui_page.page
    page.goto(project)
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    before, cells = widths(page, "name")
    assert all(c == pytest.approx(before, abs=1) for c in cells)
    handle = page.locator("th[data-col=name] .col-resize")
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 90, y, steps=5)
    page.mouse.move(x + 160, y, steps=5)
    page.mouse.up()
    after, cells = widths(page, "name")
    assert after == pytest.approx(before + 160, abs=2)
    assert len(cells) == 3 and all(c == pytest.approx(after, abs=1) for c in cells)
    # The drag did not sort (the header's button was not clicked).
    assert page.get_attribute("th[data-col=name]", "aria-sort") is None
    ui_page.screenshot("runs-table-resized")
    # Narrower than its text: cut, never below the minimum; a sort keeps the width.
    box = handle.bounding_box()
    assert box is not None
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 2000, y, steps=5)
    page.mouse.up()
    narrow, _ = widths(page, "name")
    assert narrow == pytest.approx(48, abs=2)
    page.click("th[data-col='config:lr'] button")
    assert widths(page, "name")[0] == pytest.approx(narrow, abs=1)
    # A double click gives the column its natural width back.
    handle.dblclick()
    assert widths(page, "name")[0] == pytest.approx(before, abs=2)


def background(page: Any) -> str:
    return str(page.evaluate("() => getComputedStyle(document.body).backgroundColor"))


# Pixels of the chart's y-axis band (labels and ticks) that are drawn and light: none in the
# light theme (dark text), many in the dark one, redrawn at the switch without a reload.
LIGHT_AXIS_PIXELS = """() => {
  const u = window.tracklet.charts.get("loss");
  const c = u.ctx.canvas;
  const d = u.ctx.getImageData(0, 0, Math.max(1, Math.floor(u.bbox.left)), c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 128 && d[i] + d[i + 1] + d[i + 2] > 450) n++;
  return n;
}"""


def test_the_theme_toggle_switches_and_is_remembered(ui_page: UiPage, project: str) -> None:
    page = ui_page.page
    page.emulate_media(color_scheme="light")
    page.goto(project)
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    toggle = "header button.theme-toggle"
    assert page.inner_text(toggle) == "Theme: system"
    assert background(page) == "rgb(255, 255, 255)"
    page.wait_for_function("() => window.tracklet.charts.get('loss')", timeout=TIMEOUT_MS)
    assert page.evaluate(LIGHT_AXIS_PIXELS) == 0
    # The system's dark preference applies while the choice is "system".
    page.emulate_media(color_scheme="dark")
    assert background(page) == "rgb(20, 23, 28)"
    page.wait_for_function(f"() => ({LIGHT_AXIS_PIXELS})() > 20", timeout=TIMEOUT_MS)
    page.click(toggle)  # light, whatever the system says
    assert page.inner_text(toggle) == "Theme: light"
    assert background(page) == "rgb(255, 255, 255)"
    page.click(toggle)  # dark
    assert page.inner_text(toggle) == "Theme: dark"
    page.emulate_media(color_scheme="light")
    assert background(page) == "rgb(20, 23, 28)"
    page.wait_for_function(f"() => ({LIGHT_AXIS_PIXELS})() > 20", timeout=TIMEOUT_MS)
    ui_page.screenshot("workspace-dark")
    # Remembered across pages and reloads.
    page.reload()
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    assert page.inner_text(toggle) == "Theme: dark"
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert background(page) == "rgb(20, 23, 28)"
    page.click(toggle)  # back to the system's (light here)
    assert page.inner_text(toggle) == "Theme: system"
    assert background(page) == "rgb(255, 255, 255)"
    page.wait_for_function(f"() => ({LIGHT_AXIS_PIXELS})() === 0", timeout=TIMEOUT_MS)
    assert page.evaluate("() => localStorage.getItem('tracklet.theme')") is None
