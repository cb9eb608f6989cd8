"""The SQL console page in headless Chromium: a statement shared by URL runs on load and
shows the rows the API answers (user data as text), an error shows DuckDB's message, and a
cut answer says so."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.e2e.http_writer import HttpWriter
from tests.ui.conftest import UiPage
from tracklet.testing import TrackletServer

PROJECT = "ui-query"
XSS = '<img src=x onerror="window.__xss=3">'
TIMEOUT_MS = 20_000
pytestmark = pytest.mark.xdist_group("ui-browser")


@pytest.fixture(scope="module")
def runs(ui_server: TrackletServer) -> Iterator[None]:
    writer = HttpWriter(ui_server.url, ui_server.key)
    try:
        for name, lr in (("qa", 0.0001), ("qb", 0.01)):
            writer.create_run("admin", PROJECT, name, config={"lr": lr, "note": XSS})
            writer.log("admin", PROJECT, name, [{"acc": s / 10} for s in range(10)],
                       finish=True)
    finally:
        writer.close()
    yield None


def _cells(ui: UiPage) -> list[list[str]]:
    ui.page.wait_for_selector("table.query tbody tr", timeout=TIMEOUT_MS)
    rows: list[list[str]] = ui.page.eval_on_selector_all(
        "table.query tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    return rows


def test_a_shared_statement_runs_on_load(ui_page: UiPage, runs: None) -> None:
    sql = (f"SELECT id, \"config.lr\", \"config.note\", max(h.acc) AS best FROM runs "
           f"JOIN history h USING (run) WHERE project = '{PROJECT}' GROUP BY ALL ORDER BY id")
    ui_page.page.goto("/query?" + urlencode({"sql": sql}))
    assert _cells(ui_page) == [["qa", "0.0001", XSS, "0.9"], ["qb", "0.01", XSS, "0.9"]]
    headers = ui_page.page.eval_on_selector_all("table.query th",
                                                "hs => hs.map(h => h.textContent)")
    assert headers == ["id", "config.lr", "config.note", "best"]
    assert ui_page.page.evaluate("() => window.__xss") is None
    assert "2 rows" in (ui_page.page.text_content(".status") or "")
    assert not ui_page.watch.errors and not ui_page.watch.dialogs


def test_errors_and_cut_answers_are_shown(ui_page: UiPage, runs: None) -> None:
    page = ui_page.page
    page.goto("/query?" + urlencode({"sql": "SELECT nope FROM runs"}))
    page.wait_for_selector(".result pre.error", timeout=TIMEOUT_MS)
    assert 'Referenced column "nope" not found' in (page.text_content(".result pre.error")
                                                    or "")
    page.fill("textarea.sql", "SELECT * FROM range(20000)")
    page.click("text=Run (Ctrl+Enter)")
    page.wait_for_selector("table.query tbody tr", timeout=TIMEOUT_MS)
    assert "cut at the row limit of 10000" in (page.text_content(".status") or "")
    assert "sql=SELECT" in page.url
