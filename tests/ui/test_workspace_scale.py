"""The workspace at scale in headless Chromium: a virtualised runs table (only the rows in
view are in the DOM), filters sent to the server as api.runs filters, the column chooser,
grouping, the x axis choice and EMA smoothing that leaves the raw min-max band alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.http_writer import HttpWriter
from tests.ui.conftest import UiPage
from tests.ui.test_browser import TIMEOUT_MS, assert_no_script_ran, chart_data
from tracklet.testing import TrackletServer

pytestmark = pytest.mark.xdist_group("ui-browser")

ENTITY = "admin"
PROJECT = "ui-scale"
#: Enough runs that rendering them all would be thousands of rows (see benchmarks/ui.py
#: for 10,000); a run costs ~15 ms to create on this shared machine.
RUNS = 2000
ARCHS = ("alpha", "beta")
LRS = (0.1, 0.2, 0.3, 0.4)
STEPS = 200


def config(i: int) -> dict[str, Any]:
    """Run i's config."""
    return {"idx": i, "arch": ARCHS[i % 2], "lr": LRS[i % 4]}


@pytest.fixture(scope="module")
def project(ui_server: TrackletServer) -> Iterator[None]:
    writer = HttpWriter(ui_server.url, ui_server.key)
    try:
        for i in range(RUNS):
            writer.create_run(ENTITY, PROJECT, f"r{i:05d}", config=config(i))
        for i in range(2):  # two runs with history, for the chart controls
            name = f"h{i}"
            writer.create_run(ENTITY, PROJECT, name, config={"idx": -1 - i, "arch": "hist",
                                                            "lr": 0.5})
            writer.log(ENTITY, PROJECT, name,
                       [{"loss": (10.0 if s == 50 else 1.0) + i + (s % 7) * 0.1}
                        for s in range(STEPS)], finish=True)
    finally:
        writer.close()
    yield None


def shown_runs(page: Any) -> list[str]:
    return [r.get_attribute("data-run") for r in page.query_selector_all("tbody tr[data-run]")]


def add_filter(page: Any, field: str, op: str, value: str) -> None:
    page.select_option("select.filter-field", field)
    page.select_option("select.filter-op", op)
    page.fill("input.filter-value", value)
    page.click("button.add-filter")


def wait_count(page: Any, n: int) -> None:
    page.wait_for_function(
        f"() => document.querySelector('.run-count').textContent === '{n}'", timeout=TIMEOUT_MS)


def test_the_table_renders_only_the_rows_in_view(ui_page: UiPage, project: None) -> None:
    page = ui_page.page
    page.goto(f"/{ENTITY}/{PROJECT}")
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    assert page.inner_text(".run-count") == str(RUNS + 2)
    in_dom = len(shown_runs(page))
    assert 10 < in_dom < 100, in_dom
    # Sort by config idx ascending, scroll to the end: the last runs are drawn there.
    page.click("th[data-col='config:idx'] button")
    page.wait_for_function(
        "() => document.querySelector('tbody tr[data-run]').dataset.run === 'h1'",
        timeout=TIMEOUT_MS)
    page.eval_on_selector(".runs-table", "el => { el.scrollTop = el.scrollHeight; }")
    last = f"r{RUNS - 1:05d}"
    page.wait_for_selector(f"tr[data-run='{last}']", timeout=TIMEOUT_MS)
    rows = shown_runs(page)
    assert rows[-1] == last and len(rows) < 100
    assert rows == [f"r{i:05d}" for i in range(RUNS - len(rows), RUNS)]
    # The table is as tall as every row would be: the scrollbar is honest.
    height = page.eval_on_selector(".runs-table", "el => el.scrollHeight")
    assert height >= (RUNS + 2) * 29
    ui_page.screenshot("workspace-scrolled")


def test_filters_go_to_the_server(ui_page: UiPage, project: None) -> None:
    page = ui_page.page
    page.goto(f"/{ENTITY}/{PROJECT}")
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    add_filter(page, "config.idx", "<", "10")
    wait_count(page, 12)  # r00000..r00009 and the two history runs (idx -1, -2)
    add_filter(page, "config.arch", "regex", "^al")
    wait_count(page, 5)
    assert sorted(shown_runs(page)) == [f"r{i:05d}" for i in range(0, 10, 2)]
    page.click(".chip[data-filter='config.idx < 10'] button.remove")
    wait_count(page, RUNS // 2)
    page.click(".chip button.remove")
    wait_count(page, RUNS + 2)
    add_filter(page, "config.lr", "in", "0.1, 0.3")
    expected = sum(1 for i in range(RUNS) if config(i)["lr"] in (0.1, 0.3))
    wait_count(page, expected)
    add_filter(page, "config.idx", ">=", "1990")
    add_filter(page, "name", "!=", "r01992")
    wait_count(page, sum(1 for i in range(1990, RUNS) if config(i)["lr"] in (0.1, 0.3)
                         and i != 1992))
    assert "r01992" not in shown_runs(page) and "r01996" in shown_runs(page)
    ui_page.screenshot("workspace-filtered")
    # A bad regex is the server's clear error, shown, not a broken page.
    add_filter(page, "name", "regex", "(")
    page.wait_for_selector(".filter-error:not(:empty)", timeout=TIMEOUT_MS)
    assert "regex" in page.inner_text(".filter-error").lower()
    assert_no_script_ran(ui_page)


def test_columns_and_grouping(ui_page: UiPage, project: None) -> None:
    page = ui_page.page
    page.goto(f"/{ENTITY}/{PROJECT}")
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    assert page.query_selector("th[data-col='config:lr']") is not None
    page.click(".column-chooser summary")
    page.uncheck("input[data-column='config:lr']")
    assert page.query_selector("th[data-col='config:lr']") is None
    page.check("input[data-column='config:lr']")
    assert page.query_selector("th[data-col='config:lr']") is not None
    page.click(".column-chooser summary")

    page.select_option("select.group-by", "config.arch")
    groups = {g.get_attribute("data-group"): g.inner_text() for g in
              page.query_selector_all("tr.group")}
    assert set(groups) <= {"alpha", "beta", "hist"} and "alpha" in groups
    assert re.search(r"\((\d+)\)", groups["alpha"]).group(1) == str(RUNS // 2)  # type: ignore[union-attr]
    page.click("tr.group[data-group='alpha'] button.group-toggle")
    # Collapsed: the next group's header follows right after it.
    groups_after = [g.get_attribute("data-group") for g in page.query_selector_all("tr.group")]
    assert groups_after[:2] == ["alpha", "beta"]
    assert not any(r.startswith("r") and int(r[1:]) % 2 == 0 for r in shown_runs(page))
    ui_page.screenshot("workspace-grouped")


def test_x_axis_and_smoothing_keep_the_raw_band(ui_page: UiPage, project: None) -> None:
    page = ui_page.page
    page.goto(f"/{ENTITY}/{PROJECT}")
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    add_filter(page, "name", "regex", "^h")
    wait_count(page, 2)
    page.uncheck("th.pick input")  # select exactly the two history runs
    page.check("th.pick input")
    page.wait_for_function("() => window.tracklet.charts.get('loss')?.data.length === 7",
                           timeout=TIMEOUT_MS)
    x, last, low, high = chart_data(page, "loss")[:4]
    assert x == list(range(STEPS))
    raw = [v for v in last]
    page.select_option("select.x-axis", "_runtime")
    page.wait_for_function(
        "() => window.tracklet.charts.get('loss').data[0][1] === 0.1", timeout=TIMEOUT_MS)
    x_rt = chart_data(page, "loss")[0]
    assert x_rt == pytest.approx([s * 0.1 for s in range(STEPS)])  # HttpWriter's _runtime
    page.select_option("select.x-axis", "_step")
    page.wait_for_function(
        "() => window.tracklet.charts.get('loss').data[0][1] === 1", timeout=TIMEOUT_MS)
    page.fill("input.smoothing", "0.9")
    page.wait_for_function(
        "() => document.querySelector('.smooth-value').textContent === '0.9'",
        timeout=TIMEOUT_MS)
    _, smooth, low2, high2 = chart_data(page, "loss")[:4]
    assert low2 == low and high2 == high  # the raw band is untouched
    acc = weight = 0.0
    expected = []
    for v in raw:
        acc = acc * 0.9 + 0.1 * v
        weight = weight * 0.9 + 0.1
        expected.append(acc / weight)
    assert smooth == pytest.approx(expected)
    # The spike at step 50 is damped in the line but still reaches its height in the band.
    assert max(smooth) < 10.0 <= max(v for v in high2 if v is not None)
    ui_page.screenshot("workspace-smoothed")


def test_compare_shows_the_keys_that_differ(ui_page: UiPage, project: None) -> None:
    page = ui_page.page
    page.goto(f"/{ENTITY}/{PROJECT}")
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    add_filter(page, "name", "in", "r00000, r00004")
    wait_count(page, 2)
    page.uncheck("th.pick input")
    page.check("th.pick input")
    page.click("button.compare-button")
    page.wait_for_selector("table.compare", timeout=TIMEOUT_MS)
    runs = [th.get_attribute("data-run") for th in page.query_selector_all(
        "table.compare thead th[data-run]")]
    assert sorted(runs) == ["r00000", "r00004"]
    keys = [r.get_attribute("data-key") for r in page.query_selector_all("table.compare tbody tr")]
    assert keys == ["config.idx"]  # arch and lr are equal for runs 0 and 4
    idx = page.eval_on_selector_all("table.compare tr[data-key='config.idx'] td",
                                    "tds => tds.map(t => t.textContent)")
    assert dict(zip(runs, idx, strict=True)) == {"r00000": "0", "r00004": "4"}
    page.check("input.compare-all")
    keys = [r.get_attribute("data-key") for r in page.query_selector_all("table.compare tbody tr")]
    assert keys == ["config.arch", "config.idx", "config.lr"]
    assert page.eval_on_selector_all("table.compare tr[data-key='config.lr'] td",
                                     "tds => tds.map(t => t.textContent)") == ["0.1", "0.1"]
    ui_page.screenshot("workspace-compare")


def test_grouped_runs_draw_one_aggregate_line_per_group(ui_page: UiPage, project: None) -> None:
    page = ui_page.page
    page.goto(f"/{ENTITY}/{PROJECT}")
    page.wait_for_selector("tbody tr[data-run]", timeout=TIMEOUT_MS)
    add_filter(page, "name", "regex", "^h")
    wait_count(page, 2)
    page.uncheck("th.pick input")
    page.check("th.pick input")
    page.wait_for_function("() => window.tracklet.charts.get('loss')?.data.length === 7",
                           timeout=TIMEOUT_MS)
    _, h0, low0, high0, h1, low1, high1 = chart_data(page, "loss")
    page.select_option("select.group-by", "config.arch")
    page.wait_for_function("() => window.tracklet.charts.get('loss')?.data.length === 4",
                           timeout=TIMEOUT_MS)
    x, mean, low, high = chart_data(page, "loss")
    assert x == list(range(STEPS))
    assert mean == pytest.approx([(a + b) / 2 for a, b in zip(h0, h1, strict=True)])
    assert low == [min(a, b) for a, b in zip(low0, low1, strict=True)]
    assert high == [max(a, b) for a, b in zip(high0, high1, strict=True)]
    assert max(high) == pytest.approx(11.1)  # run h1's spike at step 50 (11 + 1 * 0.1)
    assert page.inner_text(".panel[data-key=loss] .legend") == "hist (2)"
    ui_page.screenshot("workspace-group-lines")
