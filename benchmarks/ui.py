"""The web UI in headless Chromium (Debian's /usr/bin/chromium under Playwright): how long
the workspace takes to draw its charts, against the floor of fetching the same series with
plain HTTP from the same page, and how the runs table copes with many runs.

- Project: ``--runs`` runs (1,000) x 10 metrics x ``--steps`` steps (1,000), half of them
  still running (their rows in the live tier), each with a summary of the 10 metrics.
- open: the workspace URL to the first chart drawn and to all 10 charts drawn (the 20
  newest runs selected, as the page starts).
- select N (10, 100, 1,000): the table filtered to N runs (``name < ...``, sent to the
  server), then "select all": to the first chart drawn with N runs and to all 10.
  Floor: the same page fetching the same 10 series requests (same runs, keys, buckets,
  four at a time, as the charts do) with ``fetch()`` in the binary layout the page reads,
  nothing drawn.
- sort: the runs table of 1,000 runs sorted by a summary metric (click to rows in the DOM).
- 1M steps: one finished, compacted run of 1,000,000 steps x 10 metrics opened alone:
  navigation to its first chart drawn (target < 1 s), against the page fetching its series.
- 10,000 runs: the workspace listing them (load), and the virtualised table scrolled from
  top to bottom in 50 jumps: the slowest re-render and the rows in the DOM.

    python -m benchmarks.ui [--runs 1000] [--steps 1000] [--quick] [--no-readme]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from benchmarks import data, harness, load, read
from benchmarks.runs import run_name
from benchmarks.runs_listing import _populate
from benchmarks.wire import Wire, finish_payload
from tracklet.config import Settings
from tracklet.storage import Storage

CHROMIUM = "/usr/bin/chromium"
SELECTIONS = (10, 100, 1000)
BIG_PROJECT_RUNS = 10_000
BIG_RUN_STEPS = 1_000_000
TIMEOUT_MS = 600_000
KEYS_PER_REQUEST = 4  # frontend/src/chart.ts
#: The server's heartbeat timeout: the default 300 s marked the unfinished runs crashed (and
#: compaction then moved their rows to Parquet) before the 1,000-run selections were
#: measured, so "half still running" read no live rows at all.
HEARTBEAT_TIMEOUT_S = "86400"

# Polls until every chart in view holds `n` runs, then scrolls the other panels into view
# one after the other (charts are drawn as they come into view) until all hold `n`; returns
# [first, all in view, all, how many were in view] in ms since `t0` (performance.now() at
# navigation start when t0 is 0).
_WAIT_CHARTS = """async ([keys, n, t0]) => {
  const done = k => window.tracklet?.charts.get(k)?.data.length === 1 + 3 * n;
  const panel = k => document.querySelector(`.panel[data-key='${k}']`);
  const visible = k => { const b = panel(k)?.getBoundingClientRect();
    return b && b.bottom > 0 && b.top < window.innerHeight; };
  const until = async (test, what) => {
    for (;;) {
      if (test()) return performance.now() - t0;
      if (performance.now() - t0 > 900000) throw new Error(what + ' not drawn: ' +
        JSON.stringify([...(window.tracklet?.charts ?? [])].map(([k, c]) => [k, c.data.length])));
      await new Promise(r => setTimeout(r, 5));
    }
  };
  await until(() => keys.some(k => panel(k)), 'panels');
  const first = await until(() => keys.some(done), 'first chart');
  const shown = keys.filter(visible);
  const inView = await until(() => shown.every(done), 'charts in view');
  for (const k of keys) {
    if (done(k)) continue;
    panel(k).scrollIntoView();
    await until(() => done(k), k);
  }
  const all = performance.now() - t0;
  window.scrollTo(0, 0);
  document.querySelectorAll('*').forEach(el => { if (el.scrollTop) el.scrollTop = 0; });
  return [first, inView, all, shown.length];
}"""

_SELECT_ALL = """async ([keys, n]) => {
  // The header is re-rendered on every change: find its box each time (a detached
  // checkbox fires no change event). Some of the N may be selected at load: all, then none.
  const box = () => document.querySelector('th.pick input');
  if (!box().checked) box().click();
  box().click();
  for (let i = 0; window.tracklet.charts.size; i++) {
    if (i > 3000) throw new Error('charts not cleared: ' + window.tracklet.charts.size);
    await new Promise(r => setTimeout(r, 20));
  }
  const t0 = performance.now();
  box().click();
  return await (WAIT_CHARTS)([keys, n, t0]);
}""".replace("WAIT_CHARTS", _WAIT_CHARTS)

_FLOOR = """async ([paths, keys, buckets]) => {
  const t0 = performance.now();
  let first = null;
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++];
      const q = new URLSearchParams({runs: paths.join(','), keys: key,
                                     buckets: String(buckets), fields: 'min,max,last',
                                     format: 'binary'});
      const r = await fetch('/api/v1/runs/series?' + q, {headers: {'X-Tracklet-UI': '1'}});
      const buf = await r.arrayBuffer();
      const size = new DataView(buf).getUint32(4, true);
      const body = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, size)));
      const values = new Float64Array(buf, 8 + size + (8 - (8 + size) % 8) % 8);
      if (!body.runs || body.runs.length !== paths.length || !values.length)
        throw new Error('short answer');
      if (first === null) first = performance.now() - t0;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return [first, performance.now() - t0];
}"""

_SORT = """(col) => {
  const button = document.querySelector(`th[data-col='${col}'] button`);
  const t0 = performance.now();
  button.click();
  const ms = performance.now() - t0;
  return [ms, document.querySelector('tbody tr[data-run]').dataset.run];
}"""

_SCROLL = """async (jumps) => {
  const el = document.querySelector('.runs-table');
  const times = [];
  let most = 0;
  const top = document.querySelector('tbody tr[data-run]').dataset.run;
  for (let i = 1; i <= jumps; i++) {
    el.scrollTop = (el.scrollHeight - el.clientHeight) * i / jumps;
    const t0 = performance.now();
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    times.push(performance.now() - t0);
    most = Math.max(most, document.querySelectorAll('tbody tr').length);
  }
  times.sort((a, b) => a - b);
  const idle = [];  // the floor: two frames with nothing to do
  for (let i = 0; i < jumps; i++) {
    const t0 = performance.now();
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    idle.push(performance.now() - t0);
  }
  idle.sort((a, b) => a - b);
  const bottom = [...document.querySelectorAll('tbody tr[data-run]')].pop().dataset.run;
  return [times[Math.floor(times.length / 2)], times[times.length - 1], most, top, bottom,
          idle[Math.floor(idle.length / 2)]];
}"""


async def _populate_history(server: harness.Server, project: str, runs: int,
                            steps: int) -> None:
    await load.ingest(server, project, runs, steps, lpr=min(steps, 1000))
    wire = Wire(server.url, server.key, connections=8)
    try:
        sem = asyncio.Semaphore(8)

        async def summarize(i: int) -> None:
            last = {m: data.value(i, steps - 1, j) for j, m in enumerate(data.METRICS)}
            # half finish; the others stay running (live tier). finish_payload() carries an
            # empty "files", so the summary goes in after it.
            body: dict[str, Any] = finish_payload() if i % 2 == 0 else {}
            body["files"] = {"wandb-summary.json": {
                "offset": 0, "content": [orjson.dumps({"_step": steps - 1, **last}).decode()]}}
            async with sem:
                await wire.file_stream(harness.ENTITY, project, run_name(i), body)

        await asyncio.gather(*(summarize(i) for i in range(runs)))
    finally:
        await wire.close()


_MARK = ".uibench-{}-{}-{}"


@contextmanager
def _server(data_dir: str | None, mark: str) -> Iterator[tuple[harness.Server, bool]]:
    """A server on a scratch data dir (fresh: to populate), or on ``data_dir``, populated
    by an earlier invocation with the same sizes when its mark is there (a profiling loop
    need not ingest ten million points each time)."""
    if data_dir is None:
        with harness.throwaway_server() as server:
            yield server, True
        return
    base = Path(data_dir)
    marks = [p.name for p in base.glob(".uibench-*")]
    fresh = not marks
    if marks and marks != [mark]:
        raise SystemExit(f"{base} holds another benchmark's data ({marks[0]}): pick another dir")
    server = harness.start_server(base)
    try:
        yield server, fresh
    finally:
        server.stop()


async def _populate_big_run(server: harness.Server, steps: int) -> None:
    """One finished run of ``steps`` steps x 10 metrics (``ui1m``), compacted to Parquet."""
    await load.ingest(server, "ui1m", 1, steps, lpr=1000)
    await _summarize_big_run(server, steps)
    read.wait_exported(server, "ui1m", [run_name(0)], steps)


async def _summarize_big_run(server: harness.Server, steps: int) -> None:
    """The big run's summary (the workspace charts the summary's numeric keys) and its
    finish."""
    last = {m: data.value(0, steps - 1, j) for j, m in enumerate(data.METRICS)}
    body: dict[str, Any] = {**finish_payload(), "files": {"wandb-summary.json": {
        "offset": 0, "content": [orjson.dumps({"_step": steps - 1, **last}).decode()]}}}
    wire = Wire(server.url, server.key, connections=1)
    try:
        await wire.file_stream(harness.ENTITY, "ui1m", run_name(0), body)
    finally:
        await wire.close()


def _runs_with_live_rows(server: harness.Server, project: str, runs: int) -> int:
    """How many of the project's runs hold rows in the live tier."""
    from tracklet.storage.history.live.read import history_counts
    from tracklet.storage.metadata.runs import get_run_by_path

    storage = Storage.open(Settings(data_dir=server.data_dir), migrate=False)
    try:
        with storage.db.read() as conn:
            ids = [get_run_by_path(conn, harness.ENTITY, project, run_name(i)).id
                   for i in range(runs)]
            return sum(1 for n in history_counts(conn, ids).values() if n)
    finally:
        storage.close()


def _browser_page(playwright: Any, server: harness.Server) -> tuple[Any, Any]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    context = browser.new_context(base_url=server.url, viewport={"width": 1400, "height": 900},
                                  extra_http_headers={"Authorization": f"Bearer {server.key}"})
    return browser, context


def _step(what: str) -> None:
    print(f"[ui] {what}", file=sys.stderr, flush=True)


def _open(context: Any, path: str, n: int = 20) -> tuple[Any, list[float]]:
    _step(f"open {path}")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(path)
    opened = page.evaluate(_WAIT_CHARTS, [list(data.METRICS), n, 0])
    return page, opened


def measure(args: argparse.Namespace) -> str:
    from playwright.sync_api import sync_playwright

    runs, steps = args.runs, args.steps
    selections = [n for n in SELECTIONS if n <= runs]
    big = 1000 if args.quick else BIG_PROJECT_RUNS
    big_steps = 10_000 if args.quick else BIG_RUN_STEPS
    project = "uibench"
    harness.SERVER_ENV["TRACKLET_HEARTBEAT_TIMEOUT_S"] = HEARTBEAT_TIMEOUT_S
    with _server(args.data_dir, _MARK.format(runs, steps, big)) as (server, fresh):
        if fresh:
            asyncio.run(_populate_history(server, project, runs, steps))
            storage = Storage.open(Settings(data_dir=server.data_dir), migrate=False)
            try:
                _populate(storage, "uibig", big)
            finally:
                storage.close()
            asyncio.run(_populate_big_run(server, big_steps))
            if args.data_dir:
                (Path(args.data_dir) / _MARK.format(runs, steps, big)).touch()
        rows: list[str] = []
        with sync_playwright() as playwright:
            browser, context = _browser_page(playwright, server)
            try:
                page, opened = _open(context, f"/{harness.ENTITY}/{project}")
                rows.append(f"| open (20 newest runs selected) | {opened[0]:.0f} ms "
                            f"| {opened[1]:.0f} ms ({opened[3]}) | {opened[2]:.0f} ms "
                            "| | | |")
                buckets = page.evaluate(
                    "() => Math.floor(document.querySelector('.panel .plot').clientWidth)")
                sort_ms, top = page.evaluate(_SORT, "summary:m0")
                sort_ms2, _ = page.evaluate(_SORT, "summary:m0")
                sort_line = (f"Sorting the table of {runs:,} runs by the summary metric `m0`: "
                             f"{sort_ms:.0f} ms, then {sort_ms2:.0f} ms the other way (click "
                             "to rows in the DOM; first row after the first click "
                             f"`{top}`).")
                page.close()
                for n in selections:
                    page, _ = _open(context, f"/{harness.ENTITY}/{project}")
                    _step(f"select {n}")
                    page.select_option("select.filter-field", "name")
                    page.select_option("select.filter-op", "<")
                    page.fill("input.filter-value", run_name(n))
                    page.click("button.add-filter")
                    page.wait_for_function(
                        f"() => document.querySelector('.run-count').textContent === '{n}'")
                    ui = page.evaluate(_SELECT_ALL, [list(data.METRICS), n])
                    paths = [f"{harness.ENTITY}/{project}/{run_name(i)}" for i in range(n)]
                    floor = page.evaluate(_FLOOR, [paths, list(data.METRICS), buckets])
                    rows.append(f"| select {n:,} runs | {ui[0]:.0f} ms "
                                f"| {ui[1]:.0f} ms ({ui[3]}) | {ui[2]:.0f} ms "
                                f"| {floor[0]:.0f} ms | {floor[1]:.0f} ms "
                                f"| {ui[2] / floor[1]:.2f}x |")
                    page.close()
                page, alone = _open(context, f"/{harness.ENTITY}/ui1m", n=1)
                one = page.evaluate(_FLOOR, [[f"{harness.ENTITY}/ui1m/{run_name(0)}"],
                                             list(data.METRICS), buckets])
                page.close()
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(f"/{harness.ENTITY}/uibig")
                page.wait_for_selector("tbody tr[data-run]")
                listed = page.evaluate("() => performance.now()")
                count = page.inner_text(".run-count")
                median, worst, most, top, bottom, idle = page.evaluate(_SCROLL, 50)
                page.close()
            finally:
                context.close()
                browser.close()
        live_runs = _runs_with_live_rows(server, project, runs)
    assert count == str(big), count
    assert most < 100 and top != bottom, (most, top, bottom)
    return "\n".join([
        f"{runs:,} runs x 10 metrics x {steps:,} steps (half still running, rows in the "
        f"live tier: {live_runs:,} runs held live rows at the end), {buckets} buckets per "
        "chart (the plot's width), 10 chart panels. "
        "`python -m benchmarks.ui"
        + (f" --runs {runs} --steps {steps}" if not args.quick else " --quick")
        + f"` on {harness.machine_line()}.",
        "",
        "| workspace | first chart | all charts in view (how many) | all 10 charts, scrolled "
        "through | floor: first series | floor: all 10 | all 10 / floor |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "\"select N\" counts from the click on the select-all box; the charts wait 150 ms "
        "after a selection change before fetching (so a burst of clicks is one fetch), "
        "which the floor does not. Panels are drawn as they come into view: \"all 10\" "
        "scrolls each undrawn panel into view in turn once those in view are drawn. The "
        "floor is the same page fetching the ten one-key `/api/v1/runs/series` answers "
        "four at a time in the page's binary layout (`format=binary&fields=min,max,last`) "
        "and viewing them as a `Float64Array`, drawing nothing (the page itself asks "
        f"for up to {KEYS_PER_REQUEST} keys per request).",
        "",
        sort_line,
        "",
        f"One finished run of {big_steps:,} steps x 10 metrics, compacted (`ui1m`), opened "
        f"alone: first chart drawn {alone[0]:.0f} ms after navigation started, the charts "
        f"in view ({alone[3]}) {alone[1]:.0f} ms, all 10 {alone[2]:.0f} ms (target < 1 s); "
        f"floor: the same page fetching its ten series {one[0]:.0f} ms to the first, "
        f"{one[1]:.0f} ms to all.",
        "",
        f"{big:,} runs (`uibig`): the workspace listed them after {listed / 1000:.1f} s "
        f"({big // 500} GraphQL pages of 500 runs); scrolled from top to bottom in 50 "
        f"jumps, a jump took {median:.0f} ms to its second frame at the median "
        f"({median / idle:.1f}x the {idle:.0f} ms of two idle frames on this machine, the "
        f"floor) and {worst:.0f} ms at worst, with at most {most} rows in the DOM.",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ui", description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 runs x 100 steps")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--data-dir", help="keep the populated server data here and reuse it "
                        "on the next invocation with the same sizes (profiling loops)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.steps = 100, 100
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run scripts/system-deps.sh", file=sys.stderr)
        return 1
    tempfile.tempdir = tempfile.gettempdir()
    body = measure(args)
    print(body)
    if not args.quick and not args.no_readme:
        harness.replace_section("Web UI (`python -m benchmarks.ui`)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
