"""The run page's media and editable fields in headless Chromium, for runs the real wandb SDK
logged, on both storage tiers (SQLite + local folder, PostgreSQL + S3 on moto): wandb.Html
renders its own styles in a frame where no script runs, images come through this origin
whatever the blob store, audio and video play, histograms over steps become a heatmap,
wandb.plot charts are drawn from their tables, and tags and notes edited in a cookie
session are what wandb.Api() reads back. Values are compared with what was logged."""

from __future__ import annotations

import io
import json
import math
import struct
import subprocess
import sys
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.ui.conftest import UiPage, new_ui_page, run_sdk_script, team_server
from tests.ui.test_browser import TIMEOUT_MS, assert_no_script_ran
from tracklet.testing import TrackletServer

pytestmark = pytest.mark.xdist_group("ui-browser")

PROJECT = "ui-media"
STYLED_HTML = ("<p id='styled' style='color: rgb(255, 0, 0); font-weight: 700'>styled</p>"
               "<style>#sheet { text-decoration: underline; }</style><p id='sheet'>sheet</p>"
               "<script>document.getElementById('styled').textContent='script ran'</script>")
HIST_EDGES = [float(i) for i in range(11)]  # ten bins over [0, 10]
HIST_STEPS = 5
LINE_ROWS = [[x, x * x] for x in range(10)]
XSS_LABEL = '<img src=x onerror="window.__xss=5;alert(5)">c'
BAR_ROWS = [["a", 3], ["b", 1], [XSS_LABEL, 2]]
SCATTER_ROWS = [[1.5, 2.0], [2.5, -1.0], [4.0, 0.5]]
SERIES_X = [0, 1, 2, 3]
SERIES_Y = {"up": [1.0, 2.0, 3.0, 4.0], "down": [4.0, 3.0, 2.0, 1.0]}
SPREAD = [float(v % 7) for v in range(49)]
VIDEO_SIZE = (64, 48)


def hist_counts(step: int) -> list[int]:
    """Step ``step``'s histogram: one count per bin, 50 in bin ``step + 2``."""
    return [50 if i == step + 2 else 1 for i in range(10)]


SDK_SCRIPT = f"""
import sys
import numpy as np
import wandb

wav, webm = sys.argv[1], sys.argv[2]
run = wandb.init(project={PROJECT!r}, tags=["t1"], notes="first notes")
run.log({{"img": wandb.Image(np.full((8, 8, 3), 200, dtype=np.uint8), caption="gray")}})
run.log({{"page": wandb.Html({STYLED_HTML!r})}})
run.log({{"beep": wandb.Audio(wav, caption="beep")}})
run.log({{"clip": wandb.Video(webm, caption="clip")}})
run.log({{"cloud": wandb.Object3D(np.arange(30, dtype=float).reshape(10, 3))}})
for step in range({HIST_STEPS}):
    counts = [50 if i == step + 2 else 1 for i in range(10)]
    run.log({{"hist": wandb.Histogram(np_histogram=(counts, {HIST_EDGES!r}))}})
line = wandb.Table(columns=["x", "y"], data={LINE_ROWS!r})
bar = wandb.Table(columns=["label", "value"], data={BAR_ROWS!r})
dots = wandb.Table(columns=["u", "v"], data={SCATTER_ROWS!r})
run.log({{"squares": wandb.plot.line(line, "x", "y", title="Squares"),
          "counts": wandb.plot.bar(bar, "label", "value", title="Counts"),
          "dots": wandb.plot.scatter(dots, "u", "v", title="Dots"),
          "series": wandb.plot.line_series({SERIES_X!r}, {list(SERIES_Y.values())!r},
                                           keys={list(SERIES_Y)!r}, title="Series",
                                           split_table=True),
          "spread": wandb.plot.histogram(
              wandb.Table(columns=["v"], data=[[v] for v in {SPREAD!r}]), "v",
              title="Spread")}})
run.finish()
print("IDS", run.id, run.url)
"""


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A mono 16-bit sine wave, written with the standard library."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 10)))
                               for i in range(int(seconds * rate))))
    return buf.getvalue()


RECORD_WEBM = """async ([w, h]) => {
  const canvas = document.createElement('canvas');
  canvas.width = w; canvas.height = h;
  document.body.append(canvas);
  const ctx = canvas.getContext('2d');
  const recorder = new MediaRecorder(canvas.captureStream(20), {mimeType: 'video/webm'});
  const parts = [];
  recorder.ondataavailable = (e) => parts.push(e.data);
  const stopped = new Promise((r) => { recorder.onstop = r; });
  recorder.start();
  for (let i = 0; i < 12; i++) {
    ctx.fillStyle = `rgb(${i * 20}, 40, 200)`;
    ctx.fillRect(0, 0, w, h);
    await new Promise((r) => setTimeout(r, 60));
  }
  recorder.stop();
  await stopped;
  return Array.from(new Uint8Array(await new Blob(parts).arrayBuffer()));
}"""


def webm_bytes(browser: Any) -> bytes:
    """A short WebM video, recorded from a canvas by Chromium itself (no ffmpeg here)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        data = page.evaluate(RECORD_WEBM, list(VIDEO_SIZE))
    finally:
        context.close()
    return bytes(data)


@dataclass(frozen=True)
class Logged:
    """A server and the SDK run logged to it."""

    server: TrackletServer
    run: str
    url: str
    backend: str


@pytest.fixture(scope="module", params=[
    "sqlite-local",
    pytest.param("postgresql-s3", marks=[pytest.mark.postgresql, pytest.mark.s3])])
def logged(request: pytest.FixtureRequest, ui_server: TrackletServer, browser: Any,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:

    servers = (iter([ui_server]) if request.param == "sqlite-local"
               else team_server(request, tmp_path_factory.mktemp("ui-team")))
    server = next(servers)
    try:
        workdir = tmp_path_factory.mktemp("sdk-media")
        (workdir / "beep.wav").write_bytes(wav_bytes())
        (workdir / "clip.webm").write_bytes(webm_bytes(browser))
        run, url = run_sdk_script(server, workdir, SDK_SCRIPT, "beep.wav", "clip.webm")
        yield Logged(server, run, url, request.param)
    finally:
        next(servers, None)  # stops the team server


@pytest.fixture
def media_page(browser: Any, logged: Logged, tmp_path: Path) -> Iterator[UiPage]:
    context, page = new_ui_page(browser, logged.server, tmp_path)
    yield page
    context.close()


def history(logged: Logged, key: str) -> list[list[Any]]:
    """The run's history of ``key`` as the API answers it."""
    rows: list[list[Any]] = httpx.get(
        f"{logged.server.url}/api/v1/runs/history", params={
            "run": f"admin/{PROJECT}/{logged.run}", "keys": key, "format": "json"},
        headers={"Authorization": f"Bearer {logged.server.key}"}).json()["rows"]
    return rows


def assert_no_csp_refusal(ui: UiPage) -> None:
    """No image, media or fetch of the page was refused by its Content-Security-Policy.
    (The wandb.Html frame's own refusals are expected: the SDK injects a stylesheet link to
    app.wandb.ai, which its policy keeps out, and its script does not run.)"""
    refused = [m for m in ui.watch.console_errors if "Content Security Policy" in m
               and any(d in m for d in ("img-src", "media-src", "connect-src"))]
    assert not refused, refused


def test_html_media_shows_its_styles_and_runs_no_script(media_page: UiPage,
                                                        logged: Logged) -> None:
    page = media_page.page
    page.goto(logged.url + "#media")
    frame_el = page.wait_for_selector("[data-media=page] iframe", timeout=TIMEOUT_MS)
    assert frame_el is not None and frame_el.get_attribute("sandbox") == ""
    frame = frame_el.content_frame()
    assert frame is not None
    frame.wait_for_selector("#styled", timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)  # a script would have run by now
    assert frame.inner_text("#styled") == "styled"
    look = frame.evaluate("""() => ({
        color: getComputedStyle(document.getElementById('styled')).color,
        weight: getComputedStyle(document.getElementById('styled')).fontWeight,
        sheet: getComputedStyle(document.getElementById('sheet')).textDecorationLine})""")
    assert look == {"color": "rgb(255, 0, 0)", "weight": "700", "sheet": "underline"}
    # The frame is sandboxed without scripts: its document cannot reach the page either.
    assert frame.evaluate("() => { try { return !!window.parent.document; } "
                          "catch { return false; } }") is False
    frame_el.scroll_into_view_if_needed()
    media_page.screenshot(f"media-html-{logged.backend}")
    assert_no_script_ran(media_page)


def test_images_load_from_this_origin_on_every_blob_store(media_page: UiPage,
                                                          logged: Logged) -> None:
    (_, value), = history(logged, "img")
    page = media_page.page
    page.goto(logged.url + "#media")
    img = "[data-media=img] img"
    page.wait_for_selector(img, timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => document.querySelector({img!r}).naturalWidth === 8",
                           timeout=TIMEOUT_MS)
    assert page.get_attribute(img, "data-path") == value["path"]
    src = page.get_attribute(img, "src")
    assert src is not None and src.startswith("/api/v1/runs/file?")
    pixel = page.evaluate(f"""() => {{
        const img = document.querySelector({img!r});
        const c = document.createElement('canvas'); c.width = 8; c.height = 8;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        return Array.from(ctx.getImageData(3, 3, 1, 1).data); }}""")
    assert pixel == [200, 200, 200, 255]
    assert page.inner_text("[data-media=img] .caption") == "gray"
    media_page.screenshot(f"media-image-{logged.backend}")
    assert_no_csp_refusal(media_page)


def test_audio_and_video_play(media_page: UiPage, logged: Logged) -> None:
    (_, beep), = history(logged, "beep")
    (_, clip), = history(logged, "clip")
    page = media_page.page
    page.goto(logged.url + "#media")
    page.wait_for_selector("[data-media=beep] audio", timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('[data-media=beep] audio')"
                           ".readyState >= 1", timeout=TIMEOUT_MS)
    duration = page.evaluate("() => document.querySelector('[data-media=beep] audio')"
                             ".duration")
    assert duration == pytest.approx(0.5, abs=0.01)
    assert page.get_attribute("[data-media=beep] audio", "data-path") == beep["path"]
    assert page.inner_text("[data-media=beep] .caption") == "beep"
    page.wait_for_function("() => document.querySelector('[data-media=clip] video')"
                           "?.readyState >= 1", timeout=TIMEOUT_MS)
    size = page.evaluate("() => { const v = document.querySelector('[data-media=clip] video');"
                         " return [v.videoWidth, v.videoHeight]; }")
    assert size == list(VIDEO_SIZE)
    assert page.get_attribute("[data-media=clip] video", "data-path") == clip["path"]
    page.locator("[data-media=clip]").scroll_into_view_if_needed()
    media_page.screenshot(f"media-audio-video-{logged.backend}")
    assert_no_csp_refusal(media_page)


def test_media_not_drawn_here_can_be_downloaded(media_page: UiPage, logged: Logged) -> None:
    (_, cloud), = history(logged, "cloud")
    page = media_page.page
    page.goto(logged.url + "#media")
    link = page.wait_for_selector("[data-media=cloud] a[data-path]", timeout=TIMEOUT_MS)
    assert link is not None and link.get_attribute("data-path") == cloud["path"]
    href = link.get_attribute("href")
    assert href is not None
    body = httpx.get(logged.server.url + href,
                     headers={"Authorization": f"Bearer {logged.server.key}"})
    assert body.status_code == 200 and len(body.content) == cloud["size"]
    assert json.loads(body.content)[0] == [0.0, 1.0, 2.0]


def test_histograms_over_steps_are_a_heatmap(media_page: UiPage, logged: Logged) -> None:
    rows = history(logged, "hist")
    steps = [step for step, _ in rows]
    assert len(steps) == HIST_STEPS
    assert [v["values"] for _, v in rows] == [hist_counts(i) for i in range(HIST_STEPS)]
    page = media_page.page
    page.goto(logged.url + "#media")
    canvas = "[data-histogram=hist] canvas.heatmap"
    page.wait_for_selector(canvas, timeout=TIMEOUT_MS)
    drawn = page.evaluate(f"() => document.querySelector({canvas!r}).heatmap")
    assert drawn["steps"] == steps and drawn["lo"] == 0 and drawn["hi"] == 10
    for i, column in enumerate(drawn["cells"]):
        assert sum(column) == pytest.approx(1.0)
        # The darkest cells are those of the step's peak bin, [i + 2, i + 3).
        peak = max(range(len(column)), key=column.__getitem__)
        assert i + 2 <= (peak + 0.5) * 10 / len(column) < i + 3
    # On screen: the peak bin's pixel is darker (more opaque) than an ordinary bin's, and
    # hovering it reads the step's own bin.
    page.locator(canvas).scroll_into_view_if_needed()
    box = page.locator(canvas).bounding_box()
    assert box is not None

    def at(i: int, value: float) -> tuple[float, float]:
        return (box["x"] + (i + 0.5) / HIST_STEPS * box["width"],
                box["y"] + (1 - value / 10) * box["height"])

    alpha = page.evaluate(f"""([points]) => {{
        const c = document.querySelector({canvas!r});
        const r = c.getBoundingClientRect(), ctx = c.getContext('2d');
        return points.map(([x, y]) => ctx.getImageData(
            Math.floor((x - r.left) * c.width / r.width),
            Math.floor((y - r.top) * c.height / r.height), 1, 1).data[3]); }}""",
        [[at(3, 5.5), at(3, 8.5)]])
    assert alpha[0] > alpha[1] > 0
    page.mouse.move(*at(3, 5.5))
    assert page.inner_text("[data-histogram=hist] .heatmap-readout") == \
        f"step {steps[3]}: [5, 6] count 50"
    media_page.screenshot(f"media-histogram-{logged.backend}")


def _marks(page: Any, selector: str, *attrs: str) -> list[list[float | str]]:
    return [[float(v) if a not in ("label", "group") else v for a, v in zip(attrs, row,
                                                                            strict=True)]
            for row in page.eval_on_selector_all(
                selector, f"els => els.map(e => {json.dumps(list(attrs))}"
                ".map(a => e.dataset[a]))")]


def test_wandb_plot_charts_are_drawn_from_their_tables(media_page: UiPage,
                                                       logged: Logged) -> None:
    page = media_page.page
    page.goto(logged.url + "#media")
    page.wait_for_selector("[data-plot=squares] svg circle.plot-point", timeout=TIMEOUT_MS)
    assert page.get_attribute("[data-plot=squares]", "data-preset") == "wandb/line/v0"
    assert page.inner_text("[data-plot=squares] h3") == "Squares"
    assert _marks(page, "[data-plot=squares] circle", "x", "y") == [
        [float(x), float(y)] for x, y in LINE_ROWS]
    assert len(page.query_selector_all("[data-plot=squares] polyline.plot-line")) == 1
    assert page.inner_text("[data-plot=counts] h3") == "Counts"
    assert _marks(page, "[data-plot=counts] rect.plot-bar", "label", "value") == [
        [label, float(v)] for label, v in BAR_ROWS]
    heights = page.eval_on_selector_all("[data-plot=counts] rect.plot-bar",
                                        "els => els.map(e => e.getBBox().height)")
    assert heights[0] > heights[2] > heights[1] > 0  # 3 > 2 > 1
    # A label is text in the chart, never markup.
    assert page.eval_on_selector_all("[data-plot=counts] text.tick",
                                     "els => els.map(e => e.dataset.label)")[-1] == XSS_LABEL
    assert not page.query_selector("[data-plot=counts] img")
    assert _marks(page, "[data-plot=dots] circle", "x", "y") == SCATTER_ROWS
    # line_series with its table split off under "Custom Chart Tables/": a line per key.
    assert page.get_attribute("[data-plot=series]", "data-preset") == "wandb/lineseries/v0"
    lines = page.eval_on_selector_all("[data-plot=series] polyline",
                                      "els => els.map(e => e.dataset.group)")
    assert sorted(lines) == sorted(SERIES_Y)
    assert page.eval_on_selector_all("[data-plot=series] .plot-legend-item",
                                     "els => els.map(e => e.textContent)") == list(SERIES_Y)
    for key, ys in SERIES_Y.items():
        assert _marks(page, f"[data-plot=series] circle[data-group={key}]", "x", "y") == [
            [float(x), y] for x, y in zip(SERIES_X, ys, strict=True)]
    # wandb.plot.histogram: the values binned, every value counted once.
    counts = [v for _, v in _marks(page, "[data-plot=spread] rect.plot-bar", "label", "value")]
    assert len(counts) == 7 and sum(counts) == len(SPREAD)
    assert not page.query_selector("[data-media='Custom Chart Tables/series_table']")
    # The charts' tables are not listed again as plain tables.
    assert not page.query_selector("[data-media=squares_table]")
    page.locator("[data-plot=squares]").scroll_into_view_if_needed()
    media_page.screenshot(f"media-plots-{logged.backend}")
    assert_no_csp_refusal(media_page)
    assert_no_script_ran(media_page)


def test_the_overview_says_where_the_run_ran(media_page: UiPage, logged: Logged) -> None:
    meta = httpx.get(f"{logged.server.url}/api/v1/runs/file", params={
        "run": f"admin/{PROJECT}/{logged.run}", "name": "wandb-metadata.json"},
        headers={"Authorization": f"Bearer {logged.server.key}"}).json()
    assert meta["args"] == ["beep.wav", "clip.webm"]
    page = media_page.page
    page.goto(logged.url)
    page.wait_for_selector("[data-fact=Host]", timeout=TIMEOUT_MS)
    assert page.inner_text("[data-fact=Host]") == meta["host"]
    assert page.inner_text("[data-fact=Python]") == meta["python"]
    assert page.inner_text("[data-fact=OS]") == meta["os"]
    program = meta.get("codePath") or meta["program"]
    assert page.inner_text("[data-fact=Command]") == f"python {program} beep.wav clip.webm"
    media_page.screenshot(f"run-overview-{logged.backend}")


def test_the_files_tab_previews_audio_and_html(media_page: UiPage, logged: Logged) -> None:
    (_, beep), = history(logged, "beep")
    (_, html), = history(logged, "page")
    page = media_page.page
    page.goto(logged.url + "#files")
    page.wait_for_selector("tr.folder[data-folder=media]", timeout=TIMEOUT_MS)
    while (closed := page.query_selector("tr.folder button[aria-expanded=false]")):
        closed.click()
    page.click(f"tr[data-file='{beep['path']}'] button.preview")
    page.wait_for_function("() => document.querySelector('.file-preview audio')"
                           "?.readyState >= 1", timeout=TIMEOUT_MS)
    assert page.get_attribute(".file-preview audio", "data-path") == beep["path"]
    page.click(f"tr[data-file='{html['path']}'] button.preview")
    frame_el = page.wait_for_selector(".file-preview iframe", timeout=TIMEOUT_MS)
    assert frame_el is not None and frame_el.get_attribute("sandbox") == ""
    frame = frame_el.content_frame()
    assert frame is not None
    frame.wait_for_selector("#styled", timeout=TIMEOUT_MS)
    assert frame.evaluate("() => getComputedStyle(document.getElementById('styled')).color"
                          ) == "rgb(255, 0, 0)"
    page.wait_for_timeout(300)
    assert frame.inner_text("#styled") == "styled"
    media_page.screenshot(f"run-files-preview-{logged.backend}")
    assert_no_script_ran(media_page)


API_READ = """
import json, sys
import wandb
run = wandb.Api().run(sys.argv[1])
print(json.dumps({"tags": run.tags, "notes": run.notes}))
"""


def api_read(logged: Logged, workdir: Path) -> dict[str, Any]:
    """The run's tags and notes as wandb.Api() reads them (in a process of its own)."""
    from tests.e2e.conftest import sdk_environment

    proc = subprocess.run([sys.executable, "-c", API_READ, f"admin/{PROJECT}/{logged.run}"],
                          capture_output=True, text=True, timeout=120, cwd=workdir,
                          env=sdk_environment(logged.server, workdir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def run_id(logged: Logged) -> str:
    """The run's GraphQL id (what UpsertBucket takes)."""
    body = httpx.post(f"{logged.server.url}/graphql", headers={
        "Authorization": f"Bearer {logged.server.key}"}, json={"query": """query($p: String!,
        $r: String!) { project(name: $p, entityName: "admin") { run(name: $r) { id } } }""",
        "variables": {"p": PROJECT, "r": logged.run}}).json()
    value: str = body["data"]["project"]["run"]["id"]
    return value


def test_tags_and_notes_are_edited_in_a_cookie_session(browser: Any, logged: Logged,
                                                       tmp_path: Path) -> None:
    context, ui = new_ui_page(browser, logged.server, tmp_path, authorized=False)
    page = ui.page
    try:
        page.goto("/login?next=" + quote(logged.url.removeprefix(logged.server.url), safe=""))
        page.fill("#key-form input[name=api_key]", logged.server.key)
        page.click("#key-form button[type=submit]")
        page.wait_for_selector("[data-fact=Tags] .tag[data-tag=t1]", timeout=TIMEOUT_MS)
        assert page.inner_text("[data-fact=Notes] .notes-text") == "first notes"
        # Logged media in the summary read as what they are, not as JSON.
        (_, img), = history(logged, "img")
        assert page.inner_text("table.summary tr[data-key=hist] td") == "histogram (10 bins)"
        assert page.inner_text("table.summary tr[data-key=img] td") == \
            f"image-file {img['path']}"
        page.fill("[data-fact=Tags] input.tag-input", "from-ui")
        page.press("[data-fact=Tags] input.tag-input", "Enter")
        page.wait_for_selector("[data-fact=Tags] .tag[data-tag=from-ui]", timeout=TIMEOUT_MS)
        page.click("[data-fact=Tags] .tag[data-tag=t1] button.tag-remove")
        page.wait_for_function("() => !document.querySelector('[data-fact=Tags] "
                               ".tag[data-tag=t1]')", timeout=TIMEOUT_MS)
        notes = "edited <b>in</b> the UI\nsecond line"
        page.click("[data-fact=Notes] button.edit-notes")
        page.fill("[data-fact=Notes] textarea.notes-input", notes)
        page.click("[data-fact=Notes] button.save-notes")
        page.wait_for_selector("[data-fact=Notes] .notes-text", timeout=TIMEOUT_MS)
        assert page.inner_text("[data-fact=Notes] .notes-text") == notes  # text, not markup
        ui.screenshot("run-tags-notes-edited")
        assert api_read(logged, tmp_path) == {"tags": ["from-ui"], "notes": notes}
        # After a reload the page shows what was saved.
        page.reload()
        page.wait_for_selector("[data-fact=Tags] .tag[data-tag=from-ui]", timeout=TIMEOUT_MS)
        assert page.eval_on_selector_all("[data-fact=Tags] .tag",
                                         "els => els.map(e => e.dataset.tag)") == ["from-ui"]
        # The same write from this session without its CSRF token is refused.
        refused = page.evaluate("""(id) => fetch('/graphql', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({query:
            'mutation($id: String!) { upsertBucket(input: {id: $id, tags: ["x"]}) ' +
            '{ bucket { id } } }', variables: {id}})}).then(r => r.status)""",
            run_id(logged))
        assert refused == 403
        assert api_read(logged, tmp_path)["tags"] == ["from-ui"]
        assert_no_script_ran(ui)
    finally:
        context.close()
