"""The workspace's charts of running runs in headless Chromium: a poll fetches only the
running runs' steps after those drawn (``bucket_width``, ``min_step``), appends them, and
the chart then equals a fresh page's; finished runs are not asked for again."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.http_writer import HttpWriter
from tests.ui.conftest import UiPage
from tests.ui.test_browser import TIMEOUT_MS, chart_data
from tracklet.testing import TrackletServer

ENTITY, PROJECT = "admin", "ui-live-ws"
pytestmark = pytest.mark.xdist_group("ui-browser")


def _series_requests(page: Any) -> list[dict[str, list[str]]]:
    seen: list[dict[str, list[str]]] = []
    page.on("request", lambda r: seen.append(parse_qs(urlparse(r.url).query))
            if "/api/v1/runs/series" in r.url else None)
    return seen


def test_running_runs_points_are_appended_not_refetched(ui_page: UiPage,
                                                        ui_server: TrackletServer) -> None:
    writer = HttpWriter(ui_server.url, ui_server.key)
    try:
        writer.create_run(ENTITY, PROJECT, "done1", display_name="done1")
        writer.log(ENTITY, PROJECT, "done1", [{"loss": 2.0 + s / 100} for s in range(300)],
                   finish=True)
        writer.create_run(ENTITY, PROJECT, "live1", display_name="live1")
        writer.log(ENTITY, PROJECT, "live1", [{"loss": 1.0} for _ in range(100)])
        page = ui_page.page
        requests = _series_requests(page)
        page.goto(f"/{ENTITY}/{PROJECT}")
        x, *columns = chart_data(page, "loss")
        assert len(x) == 300 and len(columns) == 6
        page.evaluate("() => { window.__loaded = true; }")  # gone if the page reloads
        drawn = len(requests)
        rows = [{"loss": 5.0} for _ in range(100)]
        rows[50]["loss"] = 50.0  # a spike at step 150 the band must show
        writer.log(ENTITY, PROJECT, "live1", rows, offset=100)
        page.wait_for_function(
            "() => { const c = window.tracklet.charts.get('loss');"
            " const i = c.series.findIndex(s => s.label === 'live1');"
            " return c.data[i].filter(v => v !== null).length === 200; }",
            timeout=TIMEOUT_MS)
        polled = chart_data(page, "loss")
        assert page.evaluate("() => window.__loaded") is True
        polls = requests[drawn:]
        assert polls, "no poll was made"
        for q in polls:  # only the running run, only from its last bucket on
            assert q["runs"] == [f"{ENTITY}/{PROJECT}/live1"], q
            assert q["bucket_width"] == ["1"] and int(q["min_step"][0]) >= 99, q
            assert q["format"] == ["binary"]
        labels = page.evaluate(
            "() => window.tracklet.charts.get('loss').series.map(s => s.label)")
        live = labels.index("live1")
        assert polled[live][150] == 50.0 and polled[live + 2][150] == 50.0
        assert polled[live][199] == 5.0 and polled[live][99] == 1.0
        # What a fresh page draws from a full fetch is what the poll appended to.
        ui_page.page.goto(f"/{ENTITY}/{PROJECT}")
        assert chart_data(ui_page.page, "loss") == polled
        assert ui_page.watch.errors == []
    finally:
        writer.close()
