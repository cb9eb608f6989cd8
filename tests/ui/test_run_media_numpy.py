"""Audio and video the real wandb SDK encodes from numpy arrays (``wandb.Audio(array,
sample_rate=...)`` through soundfile, ``wandb.Video(frames, fps=..., format=...)`` through
moviepy and imageio's bundled ffmpeg, as mp4, webm and gif), logged at two steps to a live
server on both storage tiers (SQLite + local folder, PostgreSQL + S3 on moto), then:

* played by the run page's Media tab in headless Chromium: the audio's duration is the logged
  one, each video has the logged size and duration and a frame drawn into a canvas has the
  logged colour where the square was drawn, the step slider switches between the steps, and
  seeking is answered with byte ranges (206, the file's type, the right Content-Range): far
  into a 2-minute tone, and to the index ffmpeg writes at the end of a 2 MB mp4; lists of
  audio and video under one key play each file;
* read back with ``wandb.Api()`` (``run.files()`` sizes and bytes) and from the server's own
  store, each file's bytes hashing to the sha256 the SDK logged for it;
* for a run still running (its history in live rows), then once it finished and was
  compacted to Parquet, the same players show the same files.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.ui.conftest import UiPage, new_ui_page, run_sdk_script, team_server
from tests.ui.test_browser import TIMEOUT_MS, assert_no_script_ran
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata.runs import get_run_by_path, get_run_file
from tracklet.testing import TrackletServer

pytestmark = pytest.mark.xdist_group("ui-browser")

PROJECT = "ui-media-numpy"
RATE = 16_000
TONE_HZ = 440
AMPLITUDE = 0.5
#: Seconds of tone per step. The long one (3.8 MB) is more than the player loads for its
#: metadata, so seeking far into it asks the server for a range from the middle of the file.
TONE_SECONDS = (0.75, 120.0)
WIDTH, HEIGHT, FPS = 64, 48, 6
#: Per step: the frame count and the colour of the square drawn on black.
CLIPS = ((12, (220, 40, 40)), (18, (40, 80, 220)))
SQUARE = (8, 40, 16, 48)  # rows top..bottom, columns left..right
FORMATS = ("mp4", "webm", "gif")
#: Seconds of tone per step of the run read while it runs.
LIVE_TONES = (0.5, 1.25)
#: Lists logged under one key at each step: tones (seconds, caption) and mp4 clips (colour).
DUET = ((0.5, "low"), (0.25, "high"))
PAIR = ((200, 200, 40), (40, 200, 200))
#: A long clip of noise at step 1 (frames, height, width): a 2 MB mp4 whose index (moov)
#: ffmpeg writes after the frames, so a player must ask for the file's end before it plays.
NOISE = (240, 120, 160)
#: How far a decoded pixel may stray from the logged colour (yuv420p and lossy codecs).
CODEC_TOLERANCE = 24

SDK_SCRIPT = f"""
import numpy as np
import wandb

run = wandb.init(project={PROJECT!r})
for step, (seconds, (frames, colour)) in enumerate(zip({TONE_SECONDS!r}, {CLIPS!r})):
    t = np.arange(round({RATE} * seconds)) / {RATE}
    tone = ({AMPLITUDE} * np.sin(2 * np.pi * {TONE_HZ} * t)).astype(np.float32)
    video = np.zeros((frames, 3, {HEIGHT}, {WIDTH}), dtype=np.uint8)
    top, bottom, left, right = {SQUARE!r}
    for channel, level in enumerate(colour):
        video[:, channel, top:bottom, left:right] = level
    row = {{"tone": wandb.Audio(tone, sample_rate={RATE}, caption=f"tone {{step}}")}}
    for fmt in {FORMATS!r}:
        row[f"clip_{{fmt}}"] = wandb.Video(video, fps={FPS}, format=fmt,
                                           caption=f"{{fmt}} {{step}}")
    row["duet"] = [wandb.Audio(({AMPLITUDE} * np.sin(2 * np.pi * {TONE_HZ} * np.arange(
        round({RATE} * secs)) / {RATE})).astype(np.float32), sample_rate={RATE}, caption=c)
        for secs, c in {DUET!r}]
    pair = []
    for colour in {PAIR!r}:
        clip = np.zeros((12, 3, {HEIGHT}, {WIDTH}), dtype=np.uint8)
        for channel, level in enumerate(colour):
            clip[:, channel, top:bottom, left:right] = level
        pair.append(wandb.Video(clip, fps={FPS}, format="mp4"))
    row["pair"] = pair
    if step == 1:
        row["noise"] = wandb.Video(np.random.default_rng(7).integers(
            0, 256, size=({NOISE[0]}, 3, {NOISE[1]}, {NOISE[2]}), dtype=np.uint8), fps={FPS},
            format="mp4")
    run.log(row, step=step)
run.finish()
print("IDS", run.id, run.url)
"""

API_READ = """
import json, sys
import wandb
run = wandb.Api().run(sys.argv[1])
files = {}
for f in run.files():
    if f.name.startswith("media/"):
        f.download(root=sys.argv[2], replace=True)
        files[f.name] = {"size": f.size, "mimetype": f.mimetype}
keys = ["tone", "duet", "pair"] + ["clip_" + x for x in sys.argv[3:]]
history = [{k: row[k] for k in ["_step", *keys]} for row in run.scan_history(keys=keys)]
noise = [{k: row[k] for k in ["_step", "noise"]} for row in run.scan_history(keys=["noise"])]
print(json.dumps({"files": files, "history": history + noise}))
"""


def expected_levels(seconds: float) -> Any:
    """The logged tone as 16-bit PCM levels (what soundfile writes for float input)."""
    import numpy as np

    return AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * np.arange(round(RATE * seconds)) / RATE
                              ) * 32767


@dataclass(frozen=True)
class Logged:
    """A server, the SDK run logged to it and its history of the media keys."""

    server: TrackletServer
    run: str
    url: str
    backend: str
    workdir: Path

    @property
    def path(self) -> str:
        """The run's entity/project/run."""
        return f"admin/{PROJECT}/{self.run}"

    def history(self, key: str, steps: tuple[int, ...] = (0, 1)) -> list[dict[str, Any]]:
        """The values of ``key`` at ``steps`` (all it was logged at), as the server's history
        API answers."""
        rows = httpx.get(f"{self.server.url}/api/v1/runs/history", params={
            "run": self.path, "keys": key, "format": "json"},
            headers={"Authorization": f"Bearer {self.server.key}"}).json()["rows"]
        assert [step for step, _ in rows] == list(steps)
        return [value for _, value in rows]


@pytest.fixture(scope="module", params=[
    "sqlite-local",
    pytest.param("postgresql-s3", marks=[pytest.mark.postgresql, pytest.mark.s3])])
def logged(request: pytest.FixtureRequest, ui_server: TrackletServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:

    servers = (iter([ui_server]) if request.param == "sqlite-local"
               else team_server(request, tmp_path_factory.mktemp("ui-team")))
    server = next(servers)
    try:
        workdir = tmp_path_factory.mktemp("sdk-numpy-media")
        run, url = run_sdk_script(server, workdir, SDK_SCRIPT)
        yield Logged(server, run, url, request.param, workdir)
    finally:
        next(servers, None)  # stops the team server


@dataclass
class Ranged:
    """One answer to a media request that asked for a byte range."""

    name: str
    range: str
    status: int
    content_range: str | None
    length: int
    content_type: str | None


@pytest.fixture
def media_page(browser: Any, logged: Logged, tmp_path: Path) -> Iterator[tuple[UiPage,
                                                                                list[Ranged]]]:
    context, page = new_ui_page(browser, logged.server, tmp_path)
    ranged: list[Ranged] = []

    def on_response(response: Any) -> None:
        asked = response.request.headers.get("range")
        if "/api/v1/runs/file?" in response.url and asked:
            name = parse_qs(urlsplit(response.url).query)["name"][0]
            ranged.append(Ranged(name, asked, response.status,
                                 response.headers.get("content-range"),
                                 int(response.headers.get("content-length", "-1")),
                                 response.headers.get("content-type")))

    page.page.on("response", on_response)
    yield page, ranged
    context.close()


def _open_media(ui: UiPage, logged: Logged, selector: str) -> Any:
    page = ui.page
    page.goto(logged.url + "#media")
    page.wait_for_selector(selector, timeout=TIMEOUT_MS)
    return page


PLAYER = """(sel) => { const e = document.querySelector(sel);
  if (!e || e.readyState < 1) return null;
  return {path: e.dataset.path, step: Number(e.dataset.step), duration: e.duration,
          width: e.videoWidth ?? null, height: e.videoHeight ?? null,
          seekable: Array.from({length: e.seekable.length},
                               (_, i) => [e.seekable.start(i), e.seekable.end(i)])}; }"""

SEEK = """async ([sel, time]) => {
  const e = document.querySelector(sel);
  const late = (what) => new Promise((_, reject) => setTimeout(
    () => reject(new Error(`no ${what} in 15 s`)), 15000));
  await Promise.race([late('seeked'), new Promise((resolve, reject) => {
    e.addEventListener('seeked', resolve, {once: true});
    e.addEventListener('error', () => reject(new Error(e.error?.message)), {once: true});
    e.currentTime = time;
  })]);
  if (e.readyState < 2) {
    await Promise.race([late('frame'), new Promise((r) => e.addEventListener('loadeddata', r,
                                                                             {once: true}))]);
  }
  return e.currentTime; }"""

PIXELS = """([sel, points]) => {
  const e = document.querySelector(sel);
  const w = e.videoWidth || e.naturalWidth, h = e.videoHeight || e.naturalHeight;
  const c = document.createElement('canvas'); c.width = w; c.height = h;
  const ctx = c.getContext('2d'); ctx.drawImage(e, 0, 0);
  return points.map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data).slice(0, 3)); }"""


def player(page: Any, selector: str, path: str) -> dict[str, Any]:
    """The player of ``selector`` once it shows ``path`` with its metadata loaded."""
    page.wait_for_function(f"""() => {{ const e = document.querySelector({selector!r});
        return e && e.dataset.path === {path!r} && e.readyState >= 1; }}""",
        timeout=TIMEOUT_MS)
    state: dict[str, Any] = page.evaluate(PLAYER, selector)
    return state


def slide_to_first_step(page: Any, key: str) -> None:
    """Move the key's step slider to its first step, as a user does with the keyboard."""
    slider = page.locator(f"[data-media={key}] input.step-slider")
    slider.focus()
    slider.press("Home")


def assert_colour(got: list[int], want: tuple[int, int, int]) -> None:
    """A decoded pixel matches ``want`` within the codec's tolerance."""
    assert all(abs(g - w) <= CODEC_TOLERANCE for g, w in zip(got, want, strict=True)), \
        (got, want)


CENTRE = ((SQUARE[2] + SQUARE[3]) // 2, (SQUARE[0] + SQUARE[1]) // 2)  # x, y
CORNER = (2, 2)


def assert_ranges_answered(ranged: list[Ranged], sizes: dict[str, int],
                           content_type: str) -> list[int]:
    """Every range the browser asked for one of ``sizes``' files was answered with those
    bytes: 206, ``content_type`` and a Content-Range naming the asked start and the file's
    size. Returns the asked starts."""
    mine = [r for r in ranged if r.name in sizes]
    assert mine, "the player asked for no byte range"
    starts = []
    for r in mine:
        first = int(r.range.removeprefix("bytes=").split("-")[0] or 0)
        starts.append(first)
        size = sizes[r.name]
        assert r.status == 206 and r.content_type == content_type, r
        assert r.content_range is not None and r.content_range.startswith(f"bytes {first}-")
        last = int(r.content_range.split(" ")[1].split("/")[0].split("-")[1])
        assert r.content_range.endswith(f"/{size}") and r.length == last - first + 1, r
    return starts


PLAY = """async ([sel, seconds]) => {
  const e = document.querySelector(sel);
  const from = e.currentTime;
  e.muted = true;
  await e.play();
  const deadline = performance.now() + 15000;
  while (e.currentTime < from + seconds && !e.ended && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  e.pause();
  return e.currentTime - from; }"""


def test_numpy_audio_plays_for_its_logged_duration_at_each_step(
        media_page: tuple[UiPage, list[Ranged]], logged: Logged) -> None:
    ui, ranged = media_page
    tones = logged.history("tone")
    assert [t["_type"] for t in tones] == ["audio-file", "audio-file"]
    audio = "[data-media=tone] audio"
    page = _open_media(ui, logged, audio)
    # The last step shows first: the long tone, seekable to its end, seeking answered from
    # byte ranges of the file.
    state = player(page, audio, tones[1]["path"])
    assert state["step"] == 1
    assert state["duration"] == pytest.approx(TONE_SECONDS[1], abs=1 / RATE)
    assert state["seekable"] == [[0, pytest.approx(state["duration"])]]
    assert page.inner_text("[data-media=tone] .caption") == "tone 1"
    # Seeking far in asks for the rest of the file from past its middle, and what comes
    # back plays on.
    far = TONE_SECONDS[1] - 10
    assert page.evaluate(SEEK, [audio, far]) == pytest.approx(far, abs=0.01)
    assert page.evaluate(PLAY, [audio, 0.3]) >= 0.3
    assert page.evaluate(SEEK, [audio, 1.0]) == pytest.approx(1.0, abs=0.01)
    starts = assert_ranges_answered(ranged, {tones[1]["path"]: tones[1]["size"]},
                                    "audio/x-wav")
    assert max(starts) > tones[1]["size"] // 2, starts
    page.locator("[data-media=tone]").scroll_into_view_if_needed()
    ui.screenshot(f"media-numpy-audio-{logged.backend}")
    # The slider's first step: the short tone.
    slide_to_first_step(page, "tone")
    state = player(page, audio, tones[0]["path"])
    assert state["step"] == 0
    assert state["duration"] == pytest.approx(TONE_SECONDS[0], abs=1 / RATE)
    assert page.inner_text("[data-media=tone] .step-label") == "step 0"
    assert page.inner_text("[data-media=tone] .caption") == "tone 0"
    assert not ui.watch.errors
    assert_no_script_ran(ui)


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_numpy_video_plays_with_its_size_duration_and_colours(
        media_page: tuple[UiPage, list[Ranged]], logged: Logged, fmt: str) -> None:
    ui, ranged = media_page
    key = f"clip_{fmt}"
    clips = logged.history(key)
    assert [(c["_type"], c["width"], c["height"]) for c in clips] == [
        ("video-file", WIDTH, HEIGHT)] * 2
    video = f"[data-media={key}] video"
    page = _open_media(ui, logged, video)
    for step in (1, 0):
        if step == 0:
            slide_to_first_step(page, key)
        frames, colour = CLIPS[step]
        state = player(page, video, clips[step]["path"])
        assert state["step"] == step
        assert (state["width"], state["height"]) == (WIDTH, HEIGHT)
        assert state["duration"] == pytest.approx(frames / FPS, abs=1 / FPS)
        assert page.inner_text(f"[data-media={key}] .caption") == f"{fmt} {step}"
        # A frame from the middle and one near the end: the square in the logged colour,
        # black around it.
        for at in (frames / FPS / 2, (frames - 1) / FPS):
            assert page.evaluate(SEEK, [video, at]) == pytest.approx(at, abs=1 / FPS)
            square, corner = page.evaluate(PIXELS, [video, [CENTRE, CORNER]])
            assert_colour(square, colour)
            assert_colour(corner, (0, 0, 0))
    assert_ranges_answered(ranged, {c["path"]: c["size"] for c in clips}, f"video/{fmt}")
    page.locator(f"[data-media={key}]").scroll_into_view_if_needed()
    ui.screenshot(f"media-numpy-{fmt}-{logged.backend}")
    assert not ui.watch.errors


def test_numpy_gif_video_shows_as_an_image_per_step(media_page: tuple[UiPage, list[Ranged]],
                                                    logged: Logged) -> None:
    ui, _ = media_page
    clips = logged.history("clip_gif")
    img = "[data-media=clip_gif] img"
    page = _open_media(ui, logged, img)
    for step in (1, 0):
        if step == 0:
            slide_to_first_step(page, "clip_gif")
        page.wait_for_function(f"""() => {{ const e = document.querySelector({img!r});
            return e.dataset.path === {clips[step]['path']!r} && e.complete
                && e.naturalWidth > 0; }}""", timeout=TIMEOUT_MS)
        assert page.evaluate(f"() => [document.querySelector({img!r}).naturalWidth, "
                             f"document.querySelector({img!r}).naturalHeight]") == \
            [WIDTH, HEIGHT]
        square, corner = page.evaluate(PIXELS, [img, [CENTRE, CORNER]])
        assert_colour(square, CLIPS[step][1])
        assert_colour(corner, (0, 0, 0))
        assert page.inner_text("[data-media=clip_gif] .step-label") == f"step {step}"
    # Drawn as large as the video players beside it (not at its 64 x 48 pixels).
    gif_box = page.locator(img).bounding_box()
    video_box = page.locator("[data-media=clip_mp4] video").bounding_box()
    assert gif_box is not None and video_box is not None
    assert gif_box["width"] > 4 * WIDTH
    assert gif_box["width"] == pytest.approx(video_box["width"], abs=1)
    assert gif_box["height"] == pytest.approx(video_box["height"], abs=1)
    ui.screenshot(f"media-numpy-gif-{logged.backend}")


def test_lists_of_numpy_audio_and_video_play_each_file(
        media_page: tuple[UiPage, list[Ranged]], logged: Logged) -> None:
    ui, _ = media_page
    duet, pair = logged.history("duet")[1], logged.history("pair")[1]
    assert (duet["_type"], duet["count"], duet["captions"]) == ("audio", 2, [c for _, c in DUET])
    assert duet["durations"] == [s for s, _ in DUET] and duet["sampleRates"] == [RATE] * 2
    assert (pair["_type"], pair["count"]) == ("videos", 2)
    page = _open_media(ui, logged, "[data-media=pair] video")
    for i, ((seconds, _), tone) in enumerate(zip(DUET, duet["audio"], strict=True)):
        state = player(page, f"[data-media=duet] audio:nth-of-type({i + 1})", tone["path"])
        assert state["duration"] == pytest.approx(seconds, abs=1 / RATE)
    assert page.inner_text("[data-media=duet] .caption") == "low, high"
    for i, (colour, clip) in enumerate(zip(PAIR, pair["videos"], strict=True)):
        video = f"[data-media=pair] video:nth-of-type({i + 1})"
        state = player(page, video, clip["path"])
        assert (state["width"], state["height"]) == (WIDTH, HEIGHT)
        assert state["duration"] == pytest.approx(12 / FPS, abs=1 / FPS)
        page.evaluate(SEEK, [video, 1.0])
        square, corner = page.evaluate(PIXELS, [video, [CENTRE, CORNER]])
        assert_colour(square, colour)
        assert_colour(corner, (0, 0, 0))
    page.locator("[data-media=pair]").scroll_into_view_if_needed()
    ui.screenshot(f"media-numpy-lists-{logged.backend}")
    assert not ui.watch.errors


def _atom_offset(mp4: bytes, kind: bytes) -> int:
    """Where the top-level box ``kind`` of an mp4 file starts."""
    at = 0
    while at + 8 <= len(mp4):
        size, name = struct.unpack(">I4s", mp4[at:at + 8])
        if name == kind:
            return at
        if size < 8:
            break
        at += size
    raise AssertionError(f"no {kind!r} box")


def test_a_long_numpy_mp4_with_its_index_at_the_end_plays_through_ranges(
        media_page: tuple[UiPage, list[Ranged]], logged: Logged) -> None:
    ui, ranged = media_page
    noise, = logged.history("noise", steps=(1,))
    mp4 = _stored_bytes(logged, [noise["path"]])[noise["path"]]
    assert len(mp4) == noise["size"] > 1_000_000
    assert _atom_offset(mp4, b"moov") > _atom_offset(mp4, b"mdat") + len(mp4) // 2
    frames, height, width = NOISE
    video = "[data-media=noise] video"
    page = _open_media(ui, logged, video)
    state = player(page, video, noise["path"])
    assert (state["width"], state["height"]) == (width, height)
    assert state["duration"] == pytest.approx(frames / FPS, abs=1 / FPS)
    # Its size and duration were read from the index, asked for as a range of its own.
    index_read = assert_ranges_answered(ranged, {noise["path"]: noise["size"]}, "video/mp4")
    assert max(index_read) > len(mp4) // 2, index_read
    far = frames / FPS - 5
    assert page.evaluate(SEEK, [video, far]) == pytest.approx(far, abs=1 / FPS)
    assert page.evaluate(PLAY, [video, 0.3]) >= 0.3
    assert_ranges_answered(ranged, {noise["path"]: noise["size"]}, "video/mp4")
    assert not ui.watch.errors


def _api_read(logged: Logged, into: Path) -> dict[str, Any]:
    from tests.e2e.conftest import sdk_environment

    proc = subprocess.run([sys.executable, "-c", API_READ, logged.path, str(into), *FORMATS],
                          capture_output=True, text=True, timeout=180, cwd=logged.workdir,
                          env=sdk_environment(logged.server, logged.workdir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def _stored_bytes(logged: Logged, names: list[str]) -> dict[str, bytes]:
    storage = logged.server.storage()
    try:
        with storage.db.read() as conn:
            run = get_run_by_path(conn, "admin", PROJECT, logged.run)
            rows = {n: get_run_file(conn, run.id, n) for n in names}
        out = {}
        for name, row in rows.items():
            assert row is not None and row.blob_key is not None, name
            out[name] = b"".join(storage.blobs.open(row.blob_key))
        return out
    finally:
        storage.close()


def _container(fmt: str, data: bytes) -> bool:
    """Whether ``data`` starts as a file of ``fmt`` does."""
    return {"mp4": data[4:8] == b"ftyp", "webm": data[:4] == b"\x1a\x45\xdf\xa3",
            "gif": data[:6] in (b"GIF87a", b"GIF89a")}[fmt]


def test_numpy_media_read_back_through_the_api_and_the_store(logged: Logged,
                                                            tmp_path: Path) -> None:
    read = _api_read(logged, tmp_path)
    logged_values = {key: logged.history(key) for key in ("tone", "duet", "pair",
                                                          *(f"clip_{f}" for f in FORMATS))}
    logged_values["noise"] = logged.history("noise", steps=(1,))
    # wandb.Api()'s history holds what the server's history API does, step for step.
    assert [row["_step"] for row in read["history"]] == [0, 1, 1]  # the last: noise alone
    for key, values in logged_values.items():
        assert [row[key] for row in read["history"] if key in row] == values
    expected = {v["path"]: v for values in logged_values.values() for value in values
                for v in value.get("audio", value.get("videos", [value]))}
    assert set(read["files"]) == set(expected)
    stored = _stored_bytes(logged, sorted(expected))
    for name, value in expected.items():
        downloaded = (tmp_path / name).read_bytes()
        assert read["files"][name]["size"] == value["size"] == len(downloaded), name
        # The bytes the SDK hashed are those wandb.Api() downloads and those in the store.
        assert hashlib.sha256(downloaded).hexdigest() == value["sha256"], name
        assert stored[name] == downloaded, name
    assert {read["files"][v["path"]]["mimetype"] for v in logged_values["tone"]} == {
        "audio/x-wav"}
    for fmt in FORMATS:
        for value in logged_values[f"clip_{fmt}"]:
            assert _container(fmt, stored[value["path"]]), (fmt, value["path"])
            assert read["files"][value["path"]]["mimetype"] == (
                "image/gif" if fmt == "gif" else f"video/{fmt}")
    import numpy as np

    # The tone itself: 16-bit mono at the logged rate, as many samples as were logged,
    # each within a level of the sine.
    for seconds, value in zip(TONE_SECONDS, logged_values["tone"], strict=True):
        with wave.open(io.BytesIO(stored[value["path"]])) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
            raw = w.readframes(w.getnframes())
        levels = np.frombuffer(raw, dtype="<i2")
        want = expected_levels(seconds)
        assert len(levels) == len(want)
        assert float(np.abs(levels - want).max()) <= 1.5


LIVE_SCRIPT = f"""
import pathlib, sys, time
import numpy as np
import wandb

run = wandb.init(project={PROJECT!r}, settings=wandb.Settings(
    x_file_stream_transmit_interval=0.5))
for step, (seconds, (frames, colour)) in enumerate(zip({LIVE_TONES!r}, {CLIPS!r})):
    t = np.arange(round({RATE} * seconds)) / {RATE}
    video = np.zeros((frames, 3, {HEIGHT}, {WIDTH}), dtype=np.uint8)
    top, bottom, left, right = {SQUARE!r}
    for channel, level in enumerate(colour):
        video[:, channel, top:bottom, left:right] = level
    run.log({{"tone": wandb.Audio(({AMPLITUDE} * np.sin(2 * np.pi * {TONE_HZ} * t)).astype(
                 np.float32), sample_rate={RATE}),
             "clip": wandb.Video(video, fps={FPS}, format="webm")}})  # committed at once
print("IDS", run.id, run.url, flush=True)
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.1)
run.finish()
"""


def _tiers(server: TrackletServer, run: str) -> tuple[int, int]:
    """(rows exported to Parquet, live rows) of the run's history in the server's store."""
    storage = server.storage()
    try:
        with storage.db.read() as conn:
            run_pk = get_run_by_path(conn, "admin", PROJECT, run).id
        with open_history(storage, run_pk) as view:
            return sum(e.row_count for e in view.exports), view.live_count
    finally:
        storage.close()


def _wait(what: str, done: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not {what} in {timeout}s"
        time.sleep(0.25)


def _check_live_media(page: Any, logged: Logged, tones: list[dict[str, Any]],
                      clips: list[dict[str, Any]]) -> None:
    """Both steps of the live run's tone and clip play as logged, the slider between."""
    for step in (1, 0):
        if step == 0:
            slide_to_first_step(page, "tone")
            slide_to_first_step(page, "clip")
        tone = player(page, "[data-media=tone] audio", tones[step]["path"])
        assert tone["duration"] == pytest.approx(LIVE_TONES[step], abs=1 / RATE)
        video = "[data-media=clip] video"
        clip = player(page, video, clips[step]["path"])
        frames, colour = CLIPS[step]
        assert (clip["width"], clip["height"]) == (WIDTH, HEIGHT)
        assert clip["duration"] == pytest.approx(frames / FPS, abs=1 / FPS)
        page.evaluate(SEEK, [video, 1.0])
        square, corner = page.evaluate(PIXELS, [video, [CENTRE, CORNER]])
        assert_colour(square, colour)
        assert_colour(corner, (0, 0, 0))


def test_numpy_media_of_a_running_run_then_of_its_compacted_history(
        browser: Any, logged: Logged, tmp_path: Path) -> None:
    from tests.e2e.conftest import sdk_environment

    (tmp_path / "train.py").write_text(LIVE_SCRIPT)
    go = tmp_path / "go"
    proc = subprocess.Popen([sys.executable, "train.py", str(go)], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=sdk_environment(logged.server, tmp_path))
    context, ui = new_ui_page(browser, logged.server, tmp_path)
    try:
        assert proc.stdout is not None
        ids = next(x for x in proc.stdout if x.startswith("IDS ")).split()
        live = Logged(logged.server, ids[1], ids[2], logged.backend, tmp_path)

        def uploaded() -> bool:
            rows = httpx.get(f"{live.server.url}/api/v1/runs/history", params={
                "run": live.path, "keys": "tone,clip", "format": "json"},
                headers={"Authorization": f"Bearer {live.server.key}"}).json()["rows"]
            return len(rows) == 2 and all(httpx.head(
                f"{live.server.url}/api/v1/runs/file", params={
                    "run": live.path, "name": v["path"]},
                headers={"Authorization": f"Bearer {live.server.key}"}).status_code == 200
                for _, *values in rows for v in values)

        _wait("uploaded while running", uploaded)
        # The history is on the live tier: the run still runs.
        assert proc.poll() is None and _tiers(live.server, live.run) == (0, 2)
        tones, clips = live.history("tone"), live.history("clip")
        page = _open_media(ui, live, "[data-media=clip] video")
        _check_live_media(page, live, tones, clips)
        ui.screenshot(f"media-numpy-running-{logged.backend}")
        # Finished and compacted to Parquet: the same media, read from the export.
        go.touch()
        assert proc.wait(timeout=120) == 0
        _wait("compacted", lambda: _tiers(live.server, live.run) == (2, 0))
        assert (live.history("tone"), live.history("clip")) == (tones, clips)
        page.reload()
        page.wait_for_selector("[data-media=clip] video", timeout=TIMEOUT_MS)
        _check_live_media(page, live, tones, clips)
        assert not ui.watch.errors
    finally:
        go.touch()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        context.close()
