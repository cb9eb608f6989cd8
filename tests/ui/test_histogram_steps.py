"""Histograms over thousands of steps, logged by the real wandb SDK, in headless Chromium:
fetched in one request, drawn in no more columns than the plot has pixels, adjacent steps
merged by adding their counts (every count drawn, a one-step spike visible), and the hover
readout naming the steps a column holds."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.ui.conftest import UiPage, run_sdk_script
from tests.ui.test_browser import TIMEOUT_MS
from tracklet.testing import TrackletServer

pytestmark = pytest.mark.xdist_group("ui-browser")

PROJECT = "ui-hist-steps"
STEPS = 2400
BINS = 20  # over [0, 20], one unit each
SPIKE_STEP = 1234
SPIKE_BIN = 19  # no other step has a count in [18, 20]
SPIKE = 7


def counts(step: int) -> list[int]:
    """Step ``step``'s histogram: a peak wandering over bins 1..17, and the spike."""
    center = (step // 200) % 15 + 2
    out = [0] * BINS
    out[center] = 5 + step % 3
    out[center - 1] = 2
    out[center + 1] = 1 + step % 2
    if step == SPIKE_STEP:
        out[SPIKE_BIN] = SPIKE
    return out


SDK_SCRIPT = f"""
import wandb
BINS, SPIKE_STEP, SPIKE_BIN, SPIKE = {BINS}, {SPIKE_STEP}, {SPIKE_BIN}, {SPIKE}
edges = [float(i) for i in range(BINS + 1)]
run = wandb.init(project={PROJECT!r})
for step in range({STEPS}):
    center = (step // 200) % 15 + 2
    out = [0] * BINS
    out[center] = 5 + step % 3
    out[center - 1] = 2
    out[center + 1] = 1 + step % 2
    if step == SPIKE_STEP:
        out[SPIKE_BIN] = SPIKE
    drift = [step / 1000 + i for i in range(11)]
    run.log({{"weights": wandb.Histogram(np_histogram=(out, edges)),
              "drift": wandb.Histogram(np_histogram=([1 + (step + i) % 4 for i in range(10)],
                                                     drift))}})
run.finish()
print("IDS", run.id, run.url)
"""


@dataclass(frozen=True)
class Logged:
    """The SDK run of histograms."""

    server: TrackletServer
    run: str
    url: str


@pytest.fixture(scope="module")
def logged(ui_server: TrackletServer, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Logged]:
    run, url = run_sdk_script(ui_server, tmp_path_factory.mktemp("sdk-hist"), SDK_SCRIPT)
    yield Logged(ui_server, run, url)


CANVAS = "[data-histogram=weights] canvas.heatmap"


def drift_counts(step: int) -> list[int]:
    """Step ``step``'s counts of the "drift" histogram (its edges move by step / 1000)."""
    return [1 + (step + i) % 4 for i in range(10)]


def label(steps: list[int], a: int, b: int) -> str:
    """The readout's name for the column of ``steps[a:b]``."""
    return f"step {steps[a]}" if b - a == 1 else \
        f"steps {steps[a]}\u2013{steps[b - 1]} ({b - a} logged)"  # an en dash


def test_thousands_of_steps_merge_into_pixel_columns(ui_page: UiPage, logged: Logged) -> None:
    # What the server holds is what the SDK logged.
    rows = httpx.get(f"{logged.server.url}/api/v1/runs/history", params={
        "run": f"admin/{PROJECT}/{logged.run}", "keys": "weights", "format": "json"},
        headers={"Authorization": f"Bearer {logged.server.key}"}, timeout=60).json()["rows"]
    assert [v["values"] for _, v in rows] == [counts(s) for s in range(STEPS)]
    steps = [step for step, _ in rows]

    page = ui_page.page
    page.emulate_media(color_scheme="light")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url)
            if "/api/v1/runs/history" in r.url else None)
    page.goto(logged.url + "#media")
    page.wait_for_function(f"() => document.querySelector({CANVAS!r})?.heatmap?.spans",
                           timeout=TIMEOUT_MS)
    page.locator(CANVAS).scroll_into_view_if_needed()
    # Every step in one request of the history endpoint.
    assert len([u for u in requests if "keys=weights" in u]) == 1
    drawn: dict[str, Any] = page.evaluate(f"""() => {{
        const c = document.querySelector({CANVAS!r});
        return {{...c.heatmap, width: c.width, clientWidth: c.clientWidth,
                 columns: Number(c.dataset.columns)}}; }}""")
    assert drawn["steps"] == steps
    width = drawn["width"]
    assert width == drawn["clientWidth"] and 200 <= width < STEPS
    # One column per pixel (no more), the steps split among them in order, none left out.
    spans = drawn["spans"]
    assert len(spans) == drawn["columns"] == width
    assert spans[0][0] == 0 and spans[-1][1] == STEPS
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(spans))
    # Every count drawn: each column's counts add up to those of its steps.
    logged_total = sum(sum(counts(s)) for s in range(STEPS))
    assert sum(map(sum, drawn["counts"])) == pytest.approx(logged_total, rel=1e-9)
    for (a, b), column in zip(spans, drawn["counts"], strict=True):
        assert sum(column) == pytest.approx(sum(sum(counts(s)) for s in range(a, b)),
                                            rel=1e-9)
    # The spike: only its column has counts in the top cells, and it is drawn there.
    spike_col = next(i for i, (a, b) in enumerate(spans) if a <= SPIKE_STEP < b)
    rows_n = len(drawn["counts"][0])
    top = range(int(SPIKE_BIN / BINS * rows_n), rows_n)
    assert sum(drawn["counts"][spike_col][r] for r in top) == pytest.approx(SPIKE)
    assert all(sum(col[r] for r in top) == 0
               for i, col in enumerate(drawn["counts"]) if i != spike_col)
    # The canvas's content box in the viewport (its border left out): column i is its
    # pixel i.
    box = page.evaluate(f"""() => {{
        const c = document.querySelector({CANVAS!r}), r = c.getBoundingClientRect();
        return {{x: r.left + c.clientLeft, y: r.top + c.clientTop, width: c.clientWidth,
                 height: c.clientHeight}}; }}""")
    y = box["y"] + (1 - (SPIKE_BIN + 0.5) / BINS) * box["height"]

    def column_x(i: int) -> float:
        # Mouse events carry whole pixels: the first whole pixel inside column i.
        return math.ceil(box["x"] + i / len(spans) * box["width"]) + 0.25

    alpha = page.evaluate(f"""([xs, y]) => {{
        const c = document.querySelector({CANVAS!r});
        const r = c.getBoundingClientRect(), ctx = c.getContext('2d');
        const left = r.left + c.clientLeft, top = r.top + c.clientTop;
        return xs.map((x) => ctx.getImageData(
            Math.floor((x - left) * c.width / c.clientWidth),
            Math.floor((y - top) * c.height / c.clientHeight), 1, 1).data[3]); }}""",
        [[column_x(spike_col - 3), column_x(spike_col), column_x(spike_col + 3)], y])
    assert alpha[0] == 0 and alpha[1] > 0 and alpha[2] == 0
    # Hovering the spike names the column's steps and the spike bin's count.
    page.mouse.move(column_x(spike_col), y)
    assert page.get_attribute("[data-histogram=weights] .heatmap-readout",
                              "data-column") == str(spike_col)
    a, b = spans[spike_col]
    assert page.inner_text("[data-histogram=weights] .heatmap-readout") == (
        f"{label(steps, a, b)}: [{SPIKE_BIN}, {SPIKE_BIN + 1}] count {SPIKE}")
    # An ordinary column's peak bin: the steps' counts added.
    col = spike_col + 40
    a, b = spans[col]
    center = (a // 200) % 15 + 2
    assert (b - 1) // 200 == a // 200  # the same peak bin throughout
    page.mouse.move(column_x(col), box["y"] + (1 - (center + 0.5) / BINS) * box["height"])
    assert page.inner_text("[data-histogram=weights] .heatmap-readout") == (
        f"{label(steps, a, b)}: [{center}, {center + 1}] "
        f"count {sum(counts(s)[center] for s in range(a, b))}")
    ui_page.screenshot("histogram-2400-steps")
    # The cells take the theme's accent: painted again at a switch, without a reload.
    pixel = f"""() => {{
        const c = document.querySelector({CANVAS!r}), r = c.getBoundingClientRect();
        return Array.from(c.getContext('2d').getImageData(
            Math.floor({column_x(spike_col)} - r.left - c.clientLeft),
            Math.floor({y} - r.top - c.clientTop), 1, 1).data.slice(0, 3)); }}"""
    # (a canvas keeps premultiplied alpha: a channel may come back one off)
    assert page.evaluate(pixel) == pytest.approx([0x2f, 0x6f, 0xeb], abs=2)  # light --accent
    page.click("header button.theme-toggle")  # light
    page.click("header button.theme-toggle")  # dark
    page.wait_for_function(f"() => ({pixel})()[0] > 100", timeout=TIMEOUT_MS)
    assert page.evaluate(pixel) == pytest.approx([0x6e, 0xa8, 0xff], abs=2)  # dark --accent
    ui_page.screenshot("histogram-2400-steps-dark")
    assert not ui_page.watch.errors


def test_steps_with_moving_edges_are_rebinned_before_they_are_added(ui_page: UiPage,
                                                                   logged: Logged) -> None:
    rows = httpx.get(f"{logged.server.url}/api/v1/runs/history", params={
        "run": f"admin/{PROJECT}/{logged.run}", "keys": "drift", "format": "json"},
        headers={"Authorization": f"Bearer {logged.server.key}"}, timeout=60).json()["rows"]
    assert [v["values"] for _, v in rows] == [drift_counts(s) for s in range(STEPS)]
    assert rows[-1][1]["bins"][0] == pytest.approx((STEPS - 1) / 1000)
    page = ui_page.page
    canvas = "[data-histogram=drift] canvas.heatmap"
    page.goto(logged.url + "#media")
    page.wait_for_function(f"() => document.querySelector({canvas!r})?.heatmap?.spans",
                           timeout=TIMEOUT_MS)
    page.locator(canvas).scroll_into_view_if_needed()
    drawn: dict[str, Any] = page.evaluate(
        f"() => ({{...document.querySelector({canvas!r}).heatmap, "
        f"width: document.querySelector({canvas!r}).width}})")
    assert drawn["lo"] == 0 and drawn["hi"] == pytest.approx(10 + (STEPS - 1) / 1000)
    spans = drawn["spans"]
    assert len(spans) == drawn["width"] < STEPS
    # Rebinned onto the shared cells and added: still every count of every step.
    for (a, b), column in zip(spans, drawn["counts"], strict=True):
        assert sum(column) == pytest.approx(sum(sum(drift_counts(s)) for s in range(a, b)),
                                            rel=1e-9)
    # The readout of a column whose steps' edges differ names the shared cell and its sum.
    box = page.evaluate(f"""() => {{
        const c = document.querySelector({canvas!r}), r = c.getBoundingClientRect();
        return {{x: r.left + c.clientLeft, y: r.top + c.clientTop, width: c.clientWidth,
                 height: c.clientHeight}}; }}""")
    col = next(i for i, (a, b) in enumerate(spans) if b - a > 1 and i > len(spans) // 2)
    rows_n = len(drawn["counts"][col])
    row = rows_n // 2
    page.mouse.move(math.ceil(box["x"] + col * box["width"] / len(spans)) + 0.25,
                    box["y"] + (1 - (row + 0.5) / rows_n) * box["height"])
    cell = (drawn["hi"] - drawn["lo"]) / rows_n
    text = page.inner_text("[data-histogram=drift] .heatmap-readout")
    a, b = spans[col]
    head = f"{label(list(range(STEPS)), a, b)}: ["
    assert text.startswith(head)
    lo, hi, count = text.removeprefix(head).replace("] count ", ", ").split(", ")
    assert float(lo) == pytest.approx(row * cell, rel=1e-5)
    assert float(hi) == pytest.approx((row + 1) * cell, rel=1e-5)
    assert float(count) == pytest.approx(drawn["counts"][col][row], rel=1e-5)
    ui_page.screenshot("histogram-moving-edges")
    assert not ui_page.watch.errors
