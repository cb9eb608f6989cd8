"""wandb.plot.confusion_matrix, pr_curve and roc_curve drawn on the run page from the tables
the real wandb SDK logged, in headless Chromium: one mark per table row with its values,
class names shown as text (a markup name stays text); a custom Vega chart is a note and its
table."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.ui.conftest import UiPage, run_sdk_script
from tests.ui.test_browser import TIMEOUT_MS, assert_no_script_ran
from tracklet.testing import TrackletServer

pytestmark = pytest.mark.xdist_group("ui-browser")

PROJECT = "ui-plots"
XSS_CLASS = '<img src=x onerror="window.__xss=7;alert(7)">bird'
CLASSES = ["cat", "dog", XSS_CLASS]
Y_TRUE = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 1, 0, 2]
PREDS = [0, 0, 1, 2, 1, 1, 0, 2, 2, 2, 1, 2, 1, 0, 2]
CUSTOM_ROWS = [[1, "<b>x</b>"], [3, "y"]]

SDK_SCRIPT = f"""
import numpy as np
import wandb

classes = {CLASSES!r}
run = wandb.init(project={PROJECT!r})
run.log({{"cm": wandb.plot.confusion_matrix(y_true={Y_TRUE!r}, preds={PREDS!r},
                                            class_names=classes, title="Confusion")}})
rng = np.random.default_rng(7)
y = rng.integers(0, 3, 80)
probas = rng.random((80, 3)) + np.eye(3)[y] * 0.6
probas /= probas.sum(axis=1, keepdims=True)
run.log({{"pr": wandb.plot.pr_curve(y, probas, labels=classes, title="PR"),
          "roc": wandb.plot.roc_curve(y, probas, labels=classes, title="ROC")}})
custom = wandb.Table(columns=["a", "b"], data={CUSTOM_ROWS!r})
run.log({{"custom": wandb.plot_table("my-team/custom-spec/v3", custom, {{"x": "a"}},
                                     {{"title": "Custom"}})}})
run.finish()
print("IDS", run.id, run.url)
"""


@dataclass(frozen=True)
class Logged:
    """The SDK run of charts."""

    server: TrackletServer
    run: str
    url: str

    def get(self, path: str, **params: str) -> Any:
        """A GET of the server's API with the admin key."""
        response = httpx.get(f"{self.server.url}{path}", params=params, timeout=60,
                             headers={"Authorization": f"Bearer {self.server.key}"})
        response.raise_for_status()
        return response.json()

    def table(self, key: str) -> dict[str, Any]:
        """The table.json last logged under history key ``key``."""
        run = f"admin/{PROJECT}/{self.run}"
        rows = self.get("/api/v1/runs/history", run=run, keys=key, format="json")["rows"]
        answer: dict[str, Any] = self.get("/api/v1/runs/file", run=run,
                                          name=rows[-1][1]["path"])
        return answer


@pytest.fixture(scope="module")
def logged(ui_server: TrackletServer, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Logged]:
    run, url = run_sdk_script(ui_server, tmp_path_factory.mktemp("sdk-plots"), SDK_SCRIPT)
    yield Logged(ui_server, run, url)


def data(page: Any, selector: str, *attrs: str) -> list[list[str]]:
    """The ``data-*`` attributes ``attrs`` of every element ``selector`` finds, in order."""
    found: list[list[str]] = page.eval_on_selector_all(
        selector, f"els => els.map(e => {json.dumps(list(attrs))}.map(a => e.dataset[a]))")
    return found


def test_the_confusion_matrix_is_a_grid_of_its_counts(ui_page: UiPage, logged: Logged
                                                      ) -> None:
    table = logged.table("cm_table")
    assert table["columns"] == ["Actual", "Predicted", "nPredictions"]
    expected = Counter(zip(Y_TRUE, PREDS, strict=True))
    assert [[a, p, float(n)] for a, p, n in table["data"]] == [
        [CLASSES[i], CLASSES[j], float(expected[i, j])] for i in range(3) for j in range(3)]
    page = ui_page.page
    page.goto(logged.url + "#media")
    page.wait_for_selector("[data-plot=cm] rect.plot-cell", timeout=TIMEOUT_MS)
    assert page.get_attribute("[data-plot=cm]", "data-preset") == "wandb/confusion_matrix/v1"
    assert page.inner_text("[data-plot=cm] h3") == "Confusion"
    # One cell per table row, with its classes and count.
    cells = data(page, "[data-plot=cm] rect.plot-cell", "actual", "predicted", "count")
    assert [[a, p, float(n)] for a, p, n in cells] == [
        [a, p, float(n)] for a, p, n in table["data"]]
    # The counts are written in the cells; darker where larger.
    assert page.eval_on_selector_all("[data-plot=cm] text.cell-count",
                                     "els => els.map(e => e.textContent)") == [
        str(expected[i, j]) for i in range(3) for j in range(3)]
    opacity = {(a, p): float(o) for a, p, o in page.eval_on_selector_all(
        "[data-plot=cm] rect.plot-cell", "els => els.map(e => [e.dataset.actual, "
        "e.dataset.predicted, e.getAttribute('fill-opacity')])")}
    assert opacity[XSS_CLASS, XSS_CLASS] == 1.0  # the largest count, 5
    # 3 > 1 = 1 > 0, and an empty cell still drawn
    assert opacity["cat", "cat"] > opacity["cat", "dog"] == opacity["dog", "cat"] > \
        opacity["dog", XSS_CLASS] > 0
    # Rows are actual classes top to bottom, columns predicted ones left to right.
    boxes = {(a, p): (x, y) for a, p, x, y in page.eval_on_selector_all(
        "[data-plot=cm] rect.plot-cell", "els => els.map(e => [e.dataset.actual, "
        "e.dataset.predicted, Number(e.getAttribute('x')), Number(e.getAttribute('y'))])")}
    assert boxes["cat", "dog"][0] > boxes["cat", "cat"][0]
    assert boxes["cat", "dog"][1] == boxes["cat", "cat"][1]
    assert boxes["dog", "cat"][1] > boxes["cat", "cat"][1]
    assert page.eval_on_selector_all("[data-plot=cm] text.axis-title",
                                     "els => els.map(e => e.textContent)") == [
        "Predicted", "Actual"]
    # Class names are text: the markup one is a label, never an element.
    for axis in ("predicted", "actual"):
        assert page.eval_on_selector_all(f"[data-plot=cm] text.tick.{axis}",
                                         "els => els.map(e => e.dataset.label)") == CLASSES
    assert not page.query_selector("[data-plot=cm] img")
    page.locator("[data-plot=cm]").scroll_into_view_if_needed()
    ui_page.screenshot("plot-confusion-matrix")
    page.click("header button.theme-toggle")  # light
    page.click("header button.theme-toggle")  # dark
    ui_page.screenshot("plot-confusion-matrix-dark")
    assert_no_script_ran(ui_page)


@pytest.mark.parametrize(("key", "x", "y", "x_title", "y_title"), [
    ("pr", "recall", "precision", "Recall", "Precision"),
    ("roc", "fpr", "tpr", "False positive rate", "True positive rate")])
def test_pr_and_roc_curves_draw_a_line_per_class(ui_page: UiPage, logged: Logged, key: str,
                                                 x: str, y: str, x_title: str, y_title: str
                                                 ) -> None:
    table = logged.table(f"{key}_table")
    cols = table["columns"]
    ci, xi, yi = cols.index("class"), cols.index(x), cols.index(y)
    per_class: dict[str, list[list[float]]] = {}
    for row in table["data"]:
        per_class.setdefault(row[ci], []).append([float(row[xi]), float(row[yi])])
    assert sorted(per_class) == sorted(CLASSES)
    page = ui_page.page
    page.goto(logged.url + "#media")
    plot = f"[data-plot={key}]"
    page.wait_for_selector(f"{plot} circle.plot-point", timeout=TIMEOUT_MS)
    assert page.get_attribute(plot, "data-preset") == "wandb/area-under-curve/v0"
    assert page.inner_text(f"{plot} h3") == key.upper()
    # A line per class, and a point per table row with the row's values.
    assert sorted(g for [g] in data(page, f"{plot} polyline.plot-line", "group")) == \
        sorted(CLASSES)
    points = data(page, f"{plot} circle.plot-point", "group", "x", "y")
    assert len(points) == len(table["data"])
    for cls, xy in per_class.items():
        assert [[float(a), float(b)] for g, a, b in points if g == cls] == xy
    # Each line goes through its class's points in x order (ties by y).
    for cls, xy in per_class.items():
        line = page.eval_on_selector_all(
            f"{plot} polyline.plot-line",
            f"els => els.find(e => e.dataset.group === {json.dumps(cls)})"
            ".getAttribute('points').split(' ').length")
        assert line == len(xy)
    assert page.eval_on_selector_all(f"{plot} text.axis-title",
                                     "els => els.map(e => e.textContent)") == [
        x_title, y_title]
    # The legend names each class as text.
    assert sorted(page.eval_on_selector_all(f"{plot} .plot-legend-item",
                                            "els => els.map(e => e.textContent)")) == \
        sorted(CLASSES)
    assert not page.query_selector(f"{plot} img")
    page.locator(plot).scroll_into_view_if_needed()
    ui_page.screenshot(f"plot-{key}-curve")
    assert_no_script_ran(ui_page)


def test_a_custom_vega_chart_is_a_note_and_its_table(ui_page: UiPage, logged: Logged) -> None:
    page = ui_page.page
    page.goto(logged.url + "#media")
    plot = "[data-plot=custom]"
    page.wait_for_selector(f"{plot} .media-table table", timeout=TIMEOUT_MS)
    assert page.get_attribute(plot, "data-preset") == "my-team/custom-spec/v3"
    assert page.inner_text(f"{plot} .plot-note") == \
        "my-team/custom-spec/v3 is not drawn here; its table has 2 rows."
    cells = page.eval_on_selector_all(
        f"{plot} .media-table tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert cells == [[str(a), b] for a, b in CUSTOM_ROWS]
    assert not page.query_selector(f"{plot} .media-table b")
    page.locator(plot).scroll_into_view_if_needed()
    ui_page.screenshot("plot-custom-vega")
    assert_no_script_ran(ui_page)
