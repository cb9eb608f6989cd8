"""Workspace charts drawn as they come into view: the panels in view first, several keys
per series request, the others only once scrolled to, each with its exact min-max band."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.http_writer import HttpWriter
from tests.ui.conftest import UiPage
from tests.ui.test_browser import TIMEOUT_MS, chart_data
from tracklet.testing import TrackletServer

pytestmark = pytest.mark.xdist_group("ui-browser")

ENTITY = "admin"
PROJECT = "ui-in-view"
METRICS = [f"m{i:02d}" for i in range(24)]
STEPS = 300


def value(metric: int, step: int) -> float:
    """Metric ``metric`` at ``step``: a ramp with one spike per metric."""
    return 1000.0 + metric if step == 7 * metric + 3 else metric + step / STEPS


@pytest.fixture(scope="module")
def project(ui_server: TrackletServer) -> Iterator[None]:
    writer = HttpWriter(ui_server.url, ui_server.key)
    try:
        writer.create_run(ENTITY, PROJECT, "r0")
        writer.log(ENTITY, PROJECT, "r0",
                   [{m: value(i, s) for i, m in enumerate(METRICS)} for s in range(STEPS)],
                   finish=True)
    finally:
        writer.close()
    yield None


def drawn(page: Any) -> list[str]:
    keys: list[str] = page.evaluate("() => [...window.tracklet.charts.keys()].sort()")
    return keys


def test_panels_out_of_view_wait_until_scrolled_to(ui_page: UiPage, project: None) -> None:
    page = ui_page.page
    asked: list[list[str]] = []
    page.on("request", lambda r: asked.append(parse_qs(urlparse(r.url).query)["keys"][0]
                                              .split(",")) if "/runs/series" in r.url else None)
    page.goto(f"/{ENTITY}/{PROJECT}")
    page.wait_for_function("() => window.tracklet?.charts.size > 0", timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)  # nothing more is drawn while nothing scrolls
    first = drawn(page)
    assert first and len(first) < len(METRICS), first
    in_view = page.evaluate("""() => [...document.querySelectorAll('.panel')]
      .filter(p => { const b = p.getBoundingClientRect();
                     return b.bottom > 0 && b.top < window.innerHeight; })
      .map(p => p.dataset.key)""")
    assert set(in_view) <= set(first)
    # The first panel alone, then several keys per request.
    assert asked[0] == [first[0]] and max(len(k) for k in asked) > 1, asked
    last = METRICS[-1]
    assert last not in first
    _, line, low, high = chart_data(page, last)  # scrolls the panel into view
    n = METRICS.index(last)
    assert line == [value(n, s) for s in range(STEPS)] == low == high
    assert max(high) == 1000.0 + n  # the spike, exact
    assert sorted({k for keys in asked for k in keys}) == sorted(drawn(page))
    ui_page.screenshot("workspace-charts-in-view")
