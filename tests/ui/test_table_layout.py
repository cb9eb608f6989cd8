"""The runs table's layout (column widths and the config/summary columns chosen) is kept per
user and project across reloads, in headless Chromium, for projects the real wandb SDK
logged."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import UiPage
from tests.ui.test_browser import TIMEOUT_MS
from tracklet.testing import TrackletServer

pytestmark = pytest.mark.xdist_group("ui-browser")

PROJECTS = ("ui-layout-a", "ui-layout-b")
SDK_SCRIPT = f"""
import wandb
for project in {list(PROJECTS)!r}:
    for i in range(2):
        grouped = {{"group": "g-a", "job_type": f"job{{i}}"}} if project.endswith("a") else {{}}
        run = wandb.init(project=project, name=f"{{project}}-run-{{i}}", **grouped,
                         config={{"lr": 0.1 * (i + 1), "batch": 32 * (i + 1), "opt": "adam"}})
        for step in range(3):
            run.log({{"loss": 1.0 / (step + 1 + i)}})
        run.finish()
"""


@pytest.fixture(scope="module")
def projects(ui_server: TrackletServer, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[str, str]]:
    from tests.e2e.conftest import sdk_environment

    workdir = tmp_path_factory.mktemp("sdk-layout")
    (workdir / "train.py").write_text(SDK_SCRIPT)
    proc = subprocess.run([sys.executable, "train.py"], cwd=workdir, capture_output=True,
                          text=True, timeout=300, env=sdk_environment(ui_server, workdir))
    assert proc.returncode == 0, proc.stderr[-4000:]
    a, b = (f"/admin/{p}" for p in PROJECTS)
    yield a, b


def widths(page: Any, col: str) -> tuple[float, list[float]]:
    """Column ``col``'s header width and its cells' widths, in pixels."""
    found: tuple[float, list[float]] = page.evaluate("""(col) => {
        const ths = [...document.querySelectorAll('thead th')];
        const i = ths.findIndex(t => t.dataset.col === col);
        return [ths[i].getBoundingClientRect().width,
                [...document.querySelectorAll('tbody tr[data-run]')].map(
                    r => r.cells[i].getBoundingClientRect().width)]; }""", col)
    return found


def drag(page: Any, col: str, dx: float) -> None:
    """Drag column ``col``'s header edge by ``dx`` pixels."""
    handle = page.locator(f"th[data-col='{col}'] .col-resize")
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y, steps=4)
    page.mouse.move(x + dx, y, steps=4)
    page.mouse.up()


def all_columns(page: Any) -> list[str]:
    """The table's column ids, in order."""
    ids: list[str] = page.eval_on_selector_all(
        "thead th[data-col]", "ths => ths.map(t => t.dataset.col)")
    return ids


def header(page: Any) -> list[str]:
    """The table's config columns, in order."""
    return [c for c in all_columns(page) if c.startswith("config:")]


def column_text(page: Any, col: str) -> dict[str, str]:
    """Column ``col``'s text per run name."""
    found: dict[str, str] = page.evaluate("""(col) => {
        const i = [...document.querySelectorAll('thead th')].findIndex(
            t => t.dataset.col === col);
        return Object.fromEntries([...document.querySelectorAll('tbody tr[data-run]')].map(
            r => [r.cells[1].textContent, r.cells[i].textContent])); }""", col)
    return found


def open_table(page: Any, project: str) -> None:
    page.goto(project)
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)


def test_widths_and_chosen_columns_are_kept_per_project(ui_page: UiPage,
                                                        projects: tuple[str, str]) -> None:
    a, b = projects
    page = ui_page.page
    open_table(page, b)
    natural_b, _ = widths(page, "name")
    # Group and job type only where some run has them; the user who logged them.
    assert all_columns(page)[:6] == ["name", "state", "created", "runtime", "tags", "user"]
    open_table(page, a)
    assert all_columns(page)[:8] == ["name", "state", "created", "runtime", "tags", "group",
                                     "jobType", "user"]
    names = [f"{PROJECTS[0]}-run-{i}" for i in range(2)]
    assert column_text(page, "group") == {n: "g-a" for n in names}
    assert column_text(page, "jobType") == {n: f"job{i}" for i, n in enumerate(names)}
    assert column_text(page, "user") == {n: "admin" for n in names}
    newest_first = list(column_text(page, "name"))
    natural, _ = widths(page, "name")
    natural_lr, _ = widths(page, "config:lr")
    assert header(page) == ["config:batch", "config:lr", "config:opt"]
    assert len(page.query_selector_all("tbody tr[data-run]")) == 2
    drag(page, "name", 150)
    drag(page, "config:lr", 60)
    wide, _ = widths(page, "name")
    assert wide == pytest.approx(natural + 150, abs=2)
    assert widths(page, "config:lr")[0] == pytest.approx(natural_lr + 60, abs=2)
    # Hide a config column and a run column with the chooser.
    page.click("details.column-chooser summary")
    page.uncheck("input[data-column='config:opt']")
    page.uncheck("input[data-column=runtime]")
    assert header(page) == ["config:batch", "config:lr"]
    assert "runtime" not in all_columns(page)

    # Reloaded: the widths and the chosen columns are back, in every row.
    page.reload()
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    head, cells = widths(page, "name")
    assert head == pytest.approx(natural + 150, abs=2)
    assert len(cells) == 2 and all(c == pytest.approx(head, abs=1) for c in cells)
    assert widths(page, "config:lr")[0] == pytest.approx(natural_lr + 60, abs=2)
    assert header(page) == ["config:batch", "config:lr"]
    page.click("details.column-chooser summary")
    assert not page.is_checked("input[data-column='config:opt']")
    assert not page.is_checked("input[data-column=runtime]")
    assert "runtime" not in all_columns(page)
    # Still newest first, by the hidden creation time.
    assert list(column_text(page, "name")) == newest_first
    assert page.is_checked("input[data-column='config:lr']")
    page.click("details.column-chooser summary")  # closed again, for the screenshot
    ui_page.screenshot("runs-table-layout-kept")
    stored = page.evaluate("() => Object.keys(localStorage).filter(k => "
                           "k.startsWith('tracklet.runs-table.'))")
    assert stored == ["tracklet.runs-table.v1:" + json.dumps(["admin", "admin", PROJECTS[0]],
                                                              separators=(",", ":"))]

    # The other project keeps its own: natural widths, every column; a resize there leaves
    # the first project's layout alone.
    open_table(page, b)
    assert widths(page, "name")[0] == pytest.approx(natural_b, abs=2)
    assert header(page) == ["config:batch", "config:lr", "config:opt"]
    assert "runtime" in all_columns(page)
    drag(page, "name", 40)
    assert widths(page, "name")[0] == pytest.approx(natural_b + 40, abs=2)
    open_table(page, a)
    assert widths(page, "name")[0] == pytest.approx(natural + 150, abs=2)
    # A double click gives the natural width back, and that is kept too.
    page.locator("th[data-col=name] .col-resize").dblclick()
    assert widths(page, "name")[0] == pytest.approx(natural, abs=2)
    page.reload()
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    assert widths(page, "name")[0] == pytest.approx(natural, abs=2)
    assert widths(page, "config:lr")[0] == pytest.approx(natural_lr + 60, abs=2)
    open_table(page, b)
    assert widths(page, "name")[0] == pytest.approx(natural_b + 40, abs=2)
    page.wait_for_function("() => window.tracklet.charts.get('loss')", timeout=TIMEOUT_MS)
    ui_page.screenshot("runs-table-layout-other-project")
    assert not ui_page.watch.errors


def test_a_broken_saved_layout_is_ignored(ui_page: UiPage, projects: tuple[str, str],
                                          tmp_path: Path) -> None:
    a, _ = projects
    page = ui_page.page
    open_table(page, a)
    natural, _ = widths(page, "name")
    key = "tracklet.runs-table.v1:" + json.dumps(["admin", "admin", PROJECTS[0]],
                                                 separators=(",", ":"))
    page.evaluate("(k) => localStorage.setItem(k, '{not json')", key)
    page.reload()
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    assert widths(page, "name")[0] == pytest.approx(natural, abs=2)
    assert header(page) == ["config:batch", "config:lr", "config:opt"]
    assert not ui_page.watch.errors
