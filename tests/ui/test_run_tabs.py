"""The run page's tabs and the artifact page in headless Chromium, for runs the real wandb
SDK logged: system metrics, console (ANSI, `\\r` rewrites, stderr, search), files with
download, images per step, a table, logged and used artifacts and the artifact page. Values
are compared with what the server's APIs (the SDK's own reads) answer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.ui.conftest import UiPage
from tests.ui.test_browser import TIMEOUT_MS, assert_no_script_ran, chart_data
from tracklet.testing import TrackletServer

pytestmark = pytest.mark.xdist_group("ui-browser")

PROJECT = "ui-tabs"
XSS_LINE = "<img src=x onerror=\"window.__xss=3;alert(3)\">console"
XSS_CELL = "<script>window.__xss=4;alert(4)</script>cell"
#: Any script that ran would change the paragraph's text (its own document, so the check
#: does not depend on reaching the parent page).
HTML_MEDIA = ("<p id='said'>hello html</p>"
              "<script>document.getElementById('said').textContent='script ran'</script>"
              "<img src=x onerror=\"document.getElementById('said').textContent='onerror'\">")
TABLE_ROWS = 61
DASH = "\u2013"  # the UI writes ranges with an en dash

SDK_SCRIPT = f"""
import sys, time
import numpy as np
import wandb

settings = wandb.Settings(x_stats_sampling_interval=0.5)
run = wandb.init(project={PROJECT!r}, config={{"lr": 0.1}}, settings=settings)
print("\\x1b[31mred alert\\x1b[0m then plain", flush=True)
print({XSS_LINE!r}, flush=True)
for i in range(0, 101, 20):
    print(f"\\rprogress {{i}}%", end="", flush=True)
    time.sleep(0.05)
print(flush=True)
print("oops on stderr", file=sys.stderr, flush=True)
for step in range(3):
    pixels = np.full((8, 8, 3), step * 100, dtype=np.uint8)
    run.log({{"img": wandb.Image(pixels, caption=f"cap{{step}}"), "loss": 1.0 / (step + 1)}})
rows = [[i, f"n{{i}}", i * 0.5] for i in range({TABLE_ROWS} - 1)] + [[99, {XSS_CELL!r}, -1.0]]
run.log({{"tbl": wandb.Table(columns=["id", "name", "score"], data=rows)}})
run.log({{"page": wandb.Html({HTML_MEDIA!r})}})
art = wandb.Artifact("data", type="dataset", metadata={{"rows": 60}})
with art.new_file("a.txt") as f:
    f.write("hello")
with art.new_file("sub/deeper/b.txt") as f:
    f.write("world!")
run.log_artifact(art)
art.wait()
time.sleep(3)  # a few system-metric samples
run.finish()
user = wandb.init(project={PROJECT!r}, job_type="eval")
user.use_artifact("data:latest")
user.finish()
print("IDS", run.id, user.id, run.url, art.url)
"""


@dataclass(frozen=True)
class Logged:
    """The two SDK runs: one that logged everything, one that used its artifact."""

    producer: str
    consumer: str
    url: str
    artifact_url: str


@pytest.fixture(scope="module")
def logged(ui_server: TrackletServer, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Logged]:
    from tests.e2e.conftest import sdk_environment

    workdir = tmp_path_factory.mktemp("sdk-tabs")
    script = workdir / "train.py"
    script.write_text(SDK_SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True,
                          text=True, timeout=300, env=sdk_environment(ui_server, workdir))
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("IDS "))
    _, producer, consumer, url, artifact_url = line.split(" ")
    yield Logged(producer, consumer, url, artifact_url)


def gql(server: TrackletServer, query: str, **variables: Any) -> dict[str, Any]:
    """A GraphQL read with the admin key, as the SDK sends it."""
    response = httpx.post(f"{server.url}/graphql", json={"query": query, "variables":
                          variables}, headers={"Authorization": f"Bearer {server.key}"})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


def run_files(server: TrackletServer, run: str) -> dict[str, dict[str, Any]]:
    data = gql(server, """query($p: String!, $r: String!) { project(name: $p, entityName:
        "admin") { run(name: $r) { files(first: 1000) { edges { node { name sizeBytes
        url } } } } } }""", p=PROJECT, r=run)
    return {e["node"]["name"]: e["node"] for e in data["project"]["run"]["files"]["edges"]}


def test_console_tab(ui_page: UiPage, logged: Logged) -> None:
    page = ui_page.page
    page.goto(logged.url + "#logs")
    page.wait_for_selector(".console .line", timeout=TIMEOUT_MS)
    texts = page.eval_on_selector_all(".console .line .text", "els => els.map(e => e.textContent)")
    assert "red alert then plain" in texts and XSS_LINE in texts
    # The `\r` progress bar was rewritten in place: only its last state is a line.
    assert "progress 100%" in texts
    assert not any(t.startswith("progress 20%") for t in texts)
    assert page.inner_text(".console .ansi-fg1") == "red alert"
    stderr = page.eval_on_selector_all(".console .line.stderr .text",
                                       "els => els.map(e => e.textContent)")
    assert stderr == ["oops on stderr"]
    total = len(texts)
    assert page.inner_text(".console-status") == f"lines 1{DASH}{total} of {total}"
    page.fill(".console-search", "PROGRESS")
    page.wait_for_function("() => document.querySelectorAll('.console .line').length === 1",
                           timeout=TIMEOUT_MS)
    assert page.inner_text(".console .line .text") == "progress 100%"
    ui_page.screenshot("run-logs")
    assert_no_script_ran(ui_page)


def test_system_tab(ui_page: UiPage, logged: Logged) -> None:
    data = gql(ui_page.server, """query($p: String!, $r: String!) { project(name: $p,
        entityName: "admin") { run(name: $r) { events(samples: 2000) } } }""",
               p=PROJECT, r=logged.producer)
    rows = [json.loads(t) for t in data["project"]["run"]["events"]]
    assert rows, "the SDK sent no system metrics"
    key = next(k for k in ("system.cpu", "system.memory_percent", "system.proc.memory.rssMB")
               if any(k in r for r in rows))
    expected = [(r["_runtime"], r[key]) for r in rows if key in r]
    page = ui_page.page
    page.goto(logged.url + "#system")
    x, last, low, high = chart_data(page, key)
    assert list(zip(x, last, strict=True)) == sorted(expected)
    assert low == last and high == last
    ui_page.screenshot("run-system")


def test_files_tab(ui_page: UiPage, logged: Logged) -> None:
    files = run_files(ui_page.server, logged.producer)
    page = ui_page.page
    page.goto(logged.url + "#files")
    page.wait_for_selector("table.files tbody tr", timeout=TIMEOUT_MS)
    # A folder tree: top-level files and closed folders, each with its count and bytes.
    top = page.eval_on_selector_all("table.files tbody tr", "rows => rows.map(r => "
                                    "r.dataset.folder ? r.dataset.folder + '/' : r.dataset.file)")
    assert top == sorted({n.split("/")[0] + "/" for n in files if "/" in n}) + sorted(
        n for n in files if "/" not in n)
    media_bytes = sum(f["sizeBytes"] for n, f in files.items() if n.startswith("media/"))
    assert page.get_attribute("tr[data-folder=media] [data-bytes]", "data-bytes") == str(
        media_bytes)
    assert page.inner_text("tr[data-folder=media] .folder-count").strip() == \
        f"{sum(n.startswith('media/') for n in files)} files"
    ui_page.screenshot("run-files-tree")
    # Opening every folder shows every file once, with its size.
    while (closed := page.query_selector("tr.folder button[aria-expanded=false]")):
        closed.click()
    shown = {r["name"]: r["bytes"] for r in page.eval_on_selector_all(
        "table.files tbody tr[data-file]", "rows => rows.map(r => ({name: r.dataset.file, "
        "bytes: Number(r.querySelector('[data-bytes]').dataset.bytes)}))")}
    assert shown == {n: f["sizeBytes"] for n, f in files.items()}
    assert "config.yaml" in shown and any(n.startswith("media/images/") for n in shown)
    # The download link is the server's signed URL and serves the file's bytes.
    href = page.get_attribute("tr[data-file='config.yaml'] a", "href")
    assert href is not None and href.startswith("/storage/file/")
    body = httpx.get(ui_page.server.url + href).content
    assert len(body) == files["config.yaml"]["sizeBytes"] and b"lr" in body
    page.click("tr[data-file='config.yaml'] button.preview")
    page.wait_for_selector(".preview-text", timeout=TIMEOUT_MS)
    assert page.inner_text(".preview-text") == body.decode().rstrip("\n") or \
        page.inner_text(".preview-text").strip() == body.decode().strip()
    ui_page.screenshot("run-files")


def test_media_tab(ui_page: UiPage, logged: Logged) -> None:
    history = httpx.get(f"{ui_page.server.url}/api/v1/runs/history", params={
        "run": f"admin/{PROJECT}/{logged.producer}", "keys": "img", "format": "json"},
        headers={"Authorization": f"Bearer {ui_page.server.key}"}).json()["rows"]
    paths = {step: v["path"] for step, v in history}
    assert sorted(paths) == [0, 1, 2]
    page = ui_page.page
    page.goto(logged.url + "#media")
    img = "[data-media=img] .media-images img"
    page.wait_for_selector(img, timeout=TIMEOUT_MS)
    assert page.get_attribute(img, "data-path") == paths[2]
    assert page.inner_text("[data-media=img] .caption") == "cap2"
    page.fill("[data-media=img] input[type=range]", "0")
    page.wait_for_function(
        f"() => document.querySelector({img!r}).dataset.path === {paths[0]!r}",
        timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => document.querySelector({img!r}).naturalWidth === 8",
                           timeout=TIMEOUT_MS)
    assert page.inner_text("[data-media=img] .step-label") == "step 0"
    # The table: 61 rows in pages of 50, sortable, cells as text.
    table = "[data-media=tbl] .media-table"
    page.wait_for_selector(f"{table} tbody tr", timeout=TIMEOUT_MS)
    assert page.inner_text(f"{table} .table-pager span") == f"rows 1{DASH}50 of {TABLE_ROWS}"
    first = page.eval_on_selector_all(f"{table} tbody tr:first-child td",
                                      "tds => tds.map(t => t.textContent)")
    assert first == ["0", "n0", "0"]
    page.click(f"{table} th:nth-child(3) button")  # score ascending: the -1.0 row first
    assert page.eval_on_selector_all(f"{table} tbody tr:first-child td",
                                     "tds => tds.map(t => t.textContent)") == [
        "99", XSS_CELL, "-1"]
    page.click(f"{table} th:nth-child(3) button")  # descending
    assert page.inner_text(f"{table} tbody tr:first-child td:nth-child(3)") == "29.5"
    # wandb.Html: shown in a frame sandboxed without scripts.
    frame_el = page.wait_for_selector("[data-media=page] iframe", timeout=TIMEOUT_MS)
    assert frame_el is not None and frame_el.get_attribute("sandbox") == ""
    frame = frame_el.content_frame()
    assert frame is not None
    frame.wait_for_selector("#said", timeout=TIMEOUT_MS)
    assert frame.inner_text("#said") == "hello html"
    page.wait_for_timeout(500)  # give an onerror handler its chance to (not) run
    ui_page.screenshot("run-media")
    assert_no_script_ran(ui_page)


def test_artifacts_tab_and_the_artifact_page(ui_page: UiPage, logged: Logged) -> None:
    page = ui_page.page
    page.goto(logged.url + "#artifacts")
    link = ".logged-artifacts tr[data-artifact='data:v0'] a"
    page.wait_for_selector(link, timeout=TIMEOUT_MS)
    assert page.inner_text(".used-artifacts").endswith("none")
    ui_page.screenshot("run-artifacts")
    page.click(link)
    page.wait_for_selector(".artifact-files tbody tr", timeout=TIMEOUT_MS)
    # The link is the URL the SDK itself prints for the artifact (`artifact.url`).
    assert page.url == logged.artifact_url
    assert page.url.endswith(f"/admin/{PROJECT}/artifacts/dataset/data/v0")
    assert page.inner_text("[data-fact=Type]") == "dataset"
    assert page.inner_text("[data-fact=Aliases]").split() == ["latest"]
    assert page.inner_text("h1.artifact-name") == "data:v0"
    assert page.inner_text("[data-fact='Logged by'] a") == page.inner_text(
        "[data-fact='Logged by']")
    assert page.get_attribute("[data-fact='Logged by'] a", "data-run") == logged.producer
    assert page.get_attribute("[data-fact='Used by'] a", "data-run") == logged.consumer
    # The lineage graph: producer -> this version -> consumer, runs linked to their pages.
    graph = "svg.lineage-graph"
    assert page.get_attribute(f"{graph} a[data-role=producer]", "data-run") == logged.producer
    assert page.get_attribute(f"{graph} a[data-role=consumer]", "data-run") == logged.consumer
    edges = page.eval_on_selector_all(f"{graph} path.lineage-edge",
                                      "els => els.map(e => [e.dataset.from, e.dataset.to])")
    assert edges == [[f"run:{logged.producer}", "artifact"],
                     ["artifact", f"run:{logged.consumer}"]]
    assert page.text_content(f"{graph} [data-node=artifact] .node-label") == "data:v0"
    assert page.inner_text("table.metadata tr[data-key=rows] td") == "60"
    assert page.get_attribute("tr[data-file='a.txt'] [data-bytes]", "data-bytes") == "5"
    href = page.get_attribute("tr[data-file='a.txt'] a", "href")
    assert href is not None and httpx.get(ui_page.server.url + href).content == b"hello"
    # Files in folders: a closed folder row with its count and size, opened by a click.
    assert page.get_attribute("tr[data-folder=sub] [data-bytes]", "data-bytes") == "6"
    assert not page.query_selector("tr[data-file='sub/deeper/b.txt']")
    page.click("tr[data-folder=sub] button.folder-toggle")
    page.click("tr[data-folder='sub/deeper'] button.folder-toggle")
    nested = "tr[data-file='sub/deeper/b.txt']"
    assert page.inner_text(f"{nested} a") == "b.txt"
    href = page.get_attribute(f"{nested} a", "href")
    assert href is not None and httpx.get(ui_page.server.url + href).content == b"world!"
    ui_page.screenshot("artifact-page")
    # The consumer's page (reached through the graph) lists it as used.
    page.click(f"{graph} a[data-role=consumer]")
    page.wait_for_url(f"**/admin/{PROJECT}/runs/{logged.consumer}", timeout=TIMEOUT_MS)
    page.goto(f"/admin/{PROJECT}/runs/{logged.consumer}#artifacts")
    page.wait_for_selector(".used-artifacts tr[data-artifact='data:v0']", timeout=TIMEOUT_MS)
    assert page.inner_text(".logged-artifacts").endswith("none")
    page.goto(f"/admin/{PROJECT}/artifacts/dataset/nope/v0")
    page.wait_for_selector("p.error", timeout=TIMEOUT_MS)
    assert "No artifact" in page.inner_text("p.error")
    assert_no_script_ran(ui_page)


def test_a_long_console_is_paged_and_follows_a_running_run(ui_page: UiPage) -> None:
    from tests.e2e.http_writer import HttpWriter

    server = ui_page.server
    writer = HttpWriter(server.url, server.key)
    lines = [f"2026-01-01T00:00:00.000000 line {i}" for i in range(2500)]
    try:
        writer.create_run("admin", PROJECT, "longlog")
        for at in range(0, len(lines), 500):
            writer.stream("admin", PROJECT, "longlog",
                          {"output.log": {"offset": at, "content": lines[at:at + 500]}})
        page = ui_page.page
        page.goto(f"/admin/{PROJECT}/runs/longlog#logs")
        status = ".console-status"
        # A long log opens at its end: the last 1,000 lines.
        page.wait_for_function(f"() => document.querySelector({status!r})?.textContent === "
                               f"'lines 1501{DASH}2500 of 2500'", timeout=TIMEOUT_MS)
        assert len(page.query_selector_all(".console .line")) == 1000
        assert page.inner_text(".console .line:last-child .text") == "line 2499"
        for action, shown in (("prev", f"lines 501{DASH}1500 of 2500"),
                              ("first", f"lines 1{DASH}1000 of 2500"),
                              ("next", f"lines 1001{DASH}2000 of 2500"),
                              ("last", f"lines 1501{DASH}2500 of 2500")):
            page.click(f"button[data-action={action}]")
            page.wait_for_function(
                f"() => document.querySelector({status!r}).textContent === {shown!r}",
                timeout=TIMEOUT_MS)
        assert page.inner_text(".console .line:first-child .text") == "line 1500"
        # The run is still running: new output joins the last page without a reload.
        page.evaluate("() => { window.__loaded = true; }")
        writer.stream("admin", PROJECT, "longlog", {"output.log": {
            "offset": 2500, "content": ["2026-01-01T00:00:09.000000 \x1b[32mfresh\x1b[0m"]}})
        page.wait_for_function(
            "() => [...document.querySelectorAll('.console .line .text')].some("
            "e => e.textContent === 'fresh')", timeout=TIMEOUT_MS)
        assert page.inner_text(".console .ansi-fg2") == "fresh"
        assert page.evaluate("() => window.__loaded") is True
        ui_page.screenshot("run-logs-long")
    finally:
        writer.close()
