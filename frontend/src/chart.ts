// One uPlot panel per metric: for each run the line of last values per bucket with a band
// from the bucket's min to its max, so a spike that a bucket averages away still shows.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { AppendFrom, Series, SeriesAnswer, StepRange } from "./api";
import { h, replace } from "./dom";
import { number } from "./format";

export interface ChartRun {
  /** entity/project/run, as /api/v1/runs/series names it. */
  path: string;
  label: string;
  color: string;
}

/** Every chart on the page by metric key (read by the UI tests and the console). */
export const charts = new Map<string, uPlot>();
declare global {
  // `parcoords`: the sweep page's parallel-coordinates data (sweep/parcoords.ts).
  interface Window { tracklet?: { charts: Map<string, uPlot>; parcoords?: unknown } }
}
window.tracklet = { charts };

/** Runs named in a chart's legend (the rest are counted). */
const LEGEND_ITEMS = 12;

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#17becf", "#bcbd22", "#4e79a7"];

/** A run's colour, stable across pages and reloads (a hash of its path). */
export function runColor(path: string): string {
  let hash = 2166136261;
  for (let i = 0; i < path.length; i++) hash = Math.imul(hash ^ path.charCodeAt(i), 16777619);
  return PALETTE[(hash >>> 0) % PALETTE.length];
}

function alpha(color: string, a: number): string {
  const n = parseInt(color.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

/** Numbers only: the JSON's "NaN" / "Infinity" strings and non-numbers become gaps. */
function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** uPlot's columns for `key`: x, then per run last, min, max; and the runs that had data.
 * With `xKey` (`_runtime`, `_timestamp`, another metric) a bucket's x is that key's last
 * value in the same bucket of the same run (the answer must hold both keys); runs' x values
 * are merged, each run's gaps spanned. */
export function chartData(answer: SeriesAnswer, key: string, runs: ChartRun[],
    keepAll = false, xKey = "_step"): { data: uPlot.AlignedData; shown: ChartRun[] } {
  const byPath = new Map(answer.runs.map((r) => [r.run, r.series]));
  const shown = keepAll ? runs : runs.filter((r) => byPath.get(r.path)?.[key]?.bucket.length);
  const onStep = xKey === "_step";
  const points: { xs: number[]; s: Series; at: number[] }[] = [];
  const all = new Set<number>();
  for (const run of shown) {
    const per = byPath.get(run.path);
    const s = per?.[key] ?? { bucket: [], count: [], firstStep: [], lastStep: [], last: [],
      min: [], max: [] };
    const xs: number[] = [];
    const at: number[] = [];
    let xOf: (b: number) => number | null = (b) => answer.start + b * answer.bucketWidth;
    if (!onStep) {
      const sx = per?.[xKey];
      const byBucket = new Map<number, number | null>();
      sx?.bucket.forEach((b, i) => byBucket.set(b, num(sx.last[i])));
      xOf = (b) => byBucket.get(b) ?? null;
    }
    s.bucket.forEach((b, i) => {
      const x = xOf(b);
      if (x === null) return;
      xs.push(x);
      at.push(i);
      all.add(x);
    });
    points.push({ xs, s, at });
  }
  const x = [...all].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const columns: (number | null)[][] = [];
  for (const { xs, s, at } of points) {
    const last = new Array<number | null>(x.length).fill(null);
    const min = new Array<number | null>(x.length).fill(null);
    const max = new Array<number | null>(x.length).fill(null);
    // Buckets ascend, and so do their x values on the step axis: walk both in step rather
    // than look each x up (a thousand runs made the lookups a visible share of a draw).
    let k = 0;
    for (let j = 0; j < xs.length; j++) {
      const v = xs[j];
      if (onStep) {
        while (x[k] < v) k++;
      } else {
        k = index.get(v)!;
      }
      const i = at[j];
      last[k] = num(s.last[i]);
      min[k] = num(s.min[i]);
      max[k] = num(s.max[i]);
    }
    columns.push(last, min, max);
  }
  return { data: [x, ...columns] as uPlot.AlignedData, shown };
}

/** `held` with the buckets of `update` (whose bucket 0 is `held`'s bucket `k`, same width)
 * in place of its own from `k` on, for the runs and keys `update` holds. */
export function appendSeries(held: SeriesAnswer, update: SeriesAnswer, k: number):
    SeriesAnswer {
  const fresh = new Map(update.runs.map((r) => [r.run, r.series]));
  const runs = held.runs.map(({ run, series }) => {
    const more = fresh.get(run);
    if (!more) return { run, series };
    const out: Record<string, Series> = { ...series };
    for (const [key, s] of Object.entries(more)) {
      const old = series[key];
      const keep = old ? lowerBound(old.bucket, k) : 0;
      const join = <T>(a: T[] | undefined, b: T[]): T[] => (a ?? []).slice(0, keep).concat(b);
      out[key] = {
        bucket: join(old?.bucket, s.bucket.map((b) => b + k)),
        count: join(old?.count, s.count), firstStep: join(old?.firstStep, s.firstStep),
        lastStep: join(old?.lastStep, s.lastStep), min: join(old?.min, s.min),
        max: join(old?.max, s.max), last: join(old?.last, s.last),
      };
    }
    return { run, series: out };
  });
  return { ...held, buckets: Math.max(held.buckets, k + update.buckets), runs };
}

/** The index of the first entry of ascending `values` at or above `x`. */
function lowerBound(values: number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** `values` smoothed by an exponential moving average with weight `alpha` on the past
 * (0: none), debiased at the start as TensorBoard does; gaps stay gaps. */
export function ema(values: (number | null)[], alpha: number): (number | null)[] {
  if (alpha <= 0) return values;
  let acc = 0;
  let weight = 0;
  return values.map((v) => {
    if (v === null || v === undefined) return null;
    acc = acc * alpha + (1 - alpha) * v;
    weight = weight * alpha + (1 - alpha);
    return acc / weight;
  });
}

/** Every run's min-max band, filled under the lines: per colour one path holding a
 * polygon per run (along its max values, back along its min values, gaps spanned as the
 * lines span them) and one fill, instead of a clipped fill and two strokes per run (at a
 * thousand runs those were most of a chart's drawing time). `byColor`: per colour the
 * column index of each run's line; its min and max columns follow it. */
function drawBands(u: uPlot, byColor: Map<string, number[]>): void {
  const xs = u.data[0];
  if (!xs.length) return;
  const { min, max } = u.scales.x;
  let i0 = 0;
  let i1 = xs.length - 1;
  while (min !== undefined && i0 < i1 && xs[i0 + 1] < min) i0++;
  while (max !== undefined && i1 > i0 && xs[i1 - 1] > max) i1--;
  const px = new Float64Array(i1 - i0 + 1);
  for (let i = i0; i <= i1; i++) px[i - i0] = u.valToPos(xs[i], "x", true);
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  // A linear y axis maps values inline (valToPos per value was a third of this function).
  const y = u.scales.y;
  const linear = y.distr === 1 && y.min !== undefined && y.max !== undefined &&
    y.max > y.min;
  const y0 = top + height;
  const k = linear ? height / (y.max! - y.min!) : 0;
  const ymin = y.min ?? 0;
  const yPos = linear ? (v: number) => y0 - (v - ymin) * k
    : (v: number) => u.valToPos(v, "y", true);
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  const at: number[] = [];
  for (const [color, bases] of byColor) {
    const path = new Path2D();
    for (const base of bases) {
      const lows = u.data[base + 1];
      const highs = u.data[base + 2];
      at.length = 0;
      for (let i = i0; i <= i1; i++) {
        if (lows[i] !== null && lows[i] !== undefined && highs[i] !== null &&
            highs[i] !== undefined) at.push(i);
      }
      if (!at.length) continue;
      path.moveTo(px[at[0] - i0], yPos(highs[at[0]]!));
      for (let j = 1; j < at.length; j++) path.lineTo(px[at[j] - i0], yPos(highs[at[j]]!));
      for (let j = at.length - 1; j >= 0; j--) path.lineTo(px[at[j] - i0], yPos(lows[at[j]]!));
      // No closePath: fill() closes each polygon (and closePath cost as much as the rest).
    }
    ctx.fillStyle = alpha(color, 0.2);
    ctx.fill(path);
  }
  ctx.restore();
}

/** The stylesheet's variable `name` as it is now (the theme may change after drawing). */
function cssVar(name: string, fallback: string): () => string {
  return () => getComputedStyle(document.documentElement).getPropertyValue(name).trim()
    || fallback;
}

/** An axis in the page's colours, read at each draw, so a theme switch recolours it. */
function axis(options: uPlot.Axis): uPlot.Axis {
  const grid = cssVar("--grid", "rgba(0,0,0,0.08)");
  return { ...options, stroke: cssVar("--fg", "#1b1f24"), grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1 } };
}

// A theme switch (the toggle, or the system's preference while it is followed) redraws
// every chart on the page with the new colours.
function recolour(): void {
  for (const plot of charts.values()) plot.redraw(false);
}
window.addEventListener("tracklet:theme", recolour);
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", recolour);

/** A chart panel for `key`: a titled box that draws itself once `answer` is given. */
export class ChartPanel {
  readonly el: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly legend: HTMLElement;
  private plot: uPlot | null = null;
  private resize: ResizeObserver | null = null;
  private shownPaths = "";
  private log = false;
  private last: { answer: SeriesAnswer; runs: ChartRun[] } | null = null;
  private shown: ChartRun[] = [];
  /** The x extent of the whole series; a narrower x scale is a zoom. */
  private extent: [number, number] = [0, 0];
  private zoomed = false;
  private quiet = false;
  private zoomTimer = 0;
  /** The x axis: `_step` (zoom refetches at full resolution) or another key whose value
   * per bucket places the points (`_runtime`, `_timestamp`); the answers must hold it. */
  xKey = "_step";
  /** EMA weight of the drawn line (0: raw); the min-max band always stays raw. */
  smoothing = 0;
  /** Fetches this key's series over a step range (set by drawPanels). */
  fetchRange: ((range: StepRange, buckets: number) => Promise<SeriesAnswer>) | null = null;

  /** `sync`: panels sharing a key share the crosshair (uPlot's cursor sync). */
  constructor(readonly key: string, private readonly sync = "tracklet") {
    this.plotBox = h("div", { class: "plot" }, h("p", { class: "muted" }, "loading…"));
    this.legend = h("div", { class: "legend" });
    const logButton = h("button", { type: "button", class: "log", "aria-pressed": "false",
      title: "logarithmic y axis" }, "log");
    logButton.addEventListener("click", () => {
      this.log = !this.log;
      logButton.setAttribute("aria-pressed", String(this.log));
      if (this.last) this.draw(this.last.answer, this.last.runs);
    });
    this.el = h("section", { class: "panel", "data-key": key },
      h("h3", null, h("span", null, key), logButton), this.plotBox, this.legend);
  }

  /** The answer the panel draws from (null before the first). */
  heldAnswer(): SeriesAnswer | null {
    return this.last?.answer ?? null;
  }

  /** Whether a plot is drawn (live updates refresh only those). */
  get drawn(): boolean {
    return this.plot !== null;
  }

  /** The width to ask buckets for: one per pixel. */
  width(): number {
    return Math.max(200, Math.floor(this.plotBox.clientWidth || 400));
  }

  /** Show a failure instead of the plot. */
  fail(message: string): void {
    replace(this.plotBox, h("p", { class: "error" }, message));
  }

  /** New data for the same runs (a live run's new points): the plot keeps its zoom unless
   * it showed everything, then it follows the new extent. Other runs: a new plot. */
  update(answer: SeriesAnswer, runs: ChartRun[]): void {
    if (this.zoomed && this.plot) {  // keep the zoomed range's own data; used on reset
      this.last = { answer, runs };
      return;
    }
    const { data, shown } = this.chartData(answer, runs);
    const plot = this.plot;
    if (!plot || shown.map((r) => r.path).join("\n") !== this.shownPaths) {
      this.draw(answer, runs);
      return;
    }
    const xs = plot.data[0];
    const { min, max } = plot.scales.x;
    const whole = !xs.length || min === undefined || max === undefined ||
      (min <= xs[0] && max >= xs[xs.length - 1]);
    this.last = { answer, runs };
    this.setExtent(data);
    this.quiet = true;
    plot.setData(data, whole);
    this.quiet = false;
  }

  /** The bucket a poll for the running runs `live` asks from on this panel's axis: the
   * last one any of them holds (refetched, it may have grown), 0 for one with no point
   * yet; null when the panel holds no axis to append to. */
  resumeBucket(live: Set<string>): number | null {
    const answer = this.last?.answer;
    if (!answer || !answer.buckets) return null;
    let k = Infinity;
    const keys = this.xKey === "_step" ? [this.key] : [this.key, this.xKey];
    for (const path of live) {
      const per = answer.runs.find((r) => r.run === path)?.series;
      for (const key of keys) {
        const b = per?.[key]?.bucket;
        k = Math.min(k, b && b.length ? b[b.length - 1] : 0);
      }
    }
    return k === Infinity ? null : k;
  }

  /** Append a poll's answer (buckets from `k` of this panel's axis on, for some runs) to
   * what the panel holds and draw it; false when the axis has grown past twice the plot's
   * width (the caller fetches the whole series again, in fewer, wider buckets). */
  append(update: SeriesAnswer, k: number, runs: ChartRun[]): boolean {
    const held = this.last?.answer;
    if (!held) return false;
    const merged = appendSeries(held, update, k);
    if (merged.buckets > 2 * this.width()) return false;
    this.update(merged, runs);
    return true;
  }

  private setExtent(data: uPlot.AlignedData): void {
    const xs = data[0];
    this.extent = xs.length ? [xs[0], xs[xs.length - 1]] : [0, 0];
  }

  /** The x scale changed: when the user zoomed in, fetch that range at full resolution. */
  private onScale(u: uPlot): void {
    const { min, max } = u.scales.x;
    if (this.quiet || min === undefined || max === undefined || !this.fetchRange ||
        this.xKey !== "_step") return;
    const [lo, hi] = this.extent;
    if (min <= lo && max >= hi) return;  // the whole series: nothing to refetch
    this.zoomed = true;
    window.clearTimeout(this.zoomTimer);
    this.zoomTimer = window.setTimeout(() => void this.zoomTo(u, min, max), 120);
  }

  private async zoomTo(u: uPlot, min: number, max: number): Promise<void> {
    const range = { min: Math.floor(min), max: Math.ceil(max) + 1 };
    let answer: SeriesAnswer;
    try {
      answer = await this.fetchRange!(range, this.width());
    } catch {
      return;  // keep the coarser data already drawn
    }
    if (u !== this.plot) return;  // redrawn meanwhile
    const { data } = this.chartData(answer, this.shown, true);
    this.quiet = true;
    u.setData(data, false);
    u.setScale("x", { min, max });
    this.quiet = false;
  }

  /** Back to the whole series (double-click). */
  private resetZoom(): void {
    this.zoomed = false;
    if (this.last) this.draw(this.last.answer, this.last.runs);
  }

  /** The plot's columns; on a log axis values at or below zero are gaps. */
  private chartData(answer: SeriesAnswer, runs: ChartRun[], keepAll = false):
      { data: uPlot.AlignedData; shown: ChartRun[] } {
    const out = chartData(answer, this.key, runs, keepAll, this.xKey);
    if (this.smoothing > 0) {
      const [x0, ...cols] = out.data;
      out.data = [x0, ...cols.map((col, i) => (i % 3 === 0
        ? ema(Array.from(col, (v) => v ?? null), this.smoothing) : col))] as uPlot.AlignedData;
    }
    if (!this.log) return out;
    const [x, ...ys] = out.data;
    const positive = ys.map((col) => Array.from(col, (v) => (v !== null && v !== undefined &&
      v > 0 ? v : null)));
    return { data: [x, ...positive] as uPlot.AlignedData, shown: out.shown };
  }

  /** Draw again from the last answer (after a smoothing or log change). */
  redraw(): void {
    if (this.last) this.draw(this.last.answer, this.last.runs);
  }

  /** Draw `runs`' series of this key from `answer`. */
  draw(answer: SeriesAnswer, runs: ChartRun[]): void {
    this.destroy();
    this.last = { answer, runs };
    this.zoomed = false;
    const { data, shown } = this.chartData(answer, runs);
    this.shown = shown;
    this.setExtent(data);
    this.shownPaths = shown.map((r) => r.path).join("\n");
    if (!shown.length) {
      replace(this.plotBox, h("p", { class: "muted" }, "no numeric values"));
      replace(this.legend);
      return;
    }
    const series: uPlot.Series[] = [{ label: answer.x }];
    // The min and max columns are not drawn as series: drawBands fills every run's band,
    // one fill per colour, before the lines are drawn over them.
    const none: uPlot.Series.PathBuilder = () => null;
    const byColor = new Map<string, number[]>();
    shown.forEach((run, i) => {
      const base = 1 + i * 3;
      series.push(
        { label: run.label, stroke: run.color, width: 1.5, spanGaps: true,
          points: { show: false } },
        { label: `${run.label} min`, paths: none, width: 0, points: { show: false } },
        { label: `${run.label} max`, paths: none, width: 0, points: { show: false } },
      );
      byColor.set(run.color, [...(byColor.get(run.color) ?? []), base]);
    });
    const items: HTMLElement[] = [];
    const values = shown.map((run) => {
      const v = h("span", { class: "value" });
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = run.color;  // CSSOM, allowed by the CSP (no inline markup)
      items.push(h("span", { class: "item" }, swatch, h("span", null, run.label), v));
      return v;
    });
    replace(this.plotBox);
    const opts: uPlot.Options = {
      width: this.width(),
      height: 220,
      series,
      legend: { show: false },
      // A hover point per series is a DOM node each: only for a legend's worth of runs.
      cursor: { drag: { x: true, y: false }, sync: { key: this.sync },
        points: { show: shown.length <= LEGEND_ITEMS } },
      scales: { x: { time: false }, y: this.log ? { distr: 3 } : {} },
      axes: [axis({ label: this.xKey === "_step" ? answer.x : this.xKey, size: 40 }),
        axis({ size: 60 })],
      hooks: {
        drawClear: [(u) => drawBands(u, byColor)],
        setScale: [(u, key) => { if (key === "x") this.onScale(u); }],
        setCursor: [(u) => {
          const idx = u.cursor.idx;
          values.forEach((v, i) => {
            const y = idx === null || idx === undefined ? null : u.data[1 + i * 3][idx];
            v.textContent = y === null || y === undefined ? "" : number(y);
          });
        }],
      },
    };
    // A long legend would bury the plot: the first LEGEND_ITEMS runs, then a count.
    const more = items.length - LEGEND_ITEMS;
    replace(this.legend, items.slice(0, LEGEND_ITEMS),
      more > 0 ? h("span", { class: "muted more" }, `and ${more} more`) : null);
    this.quiet = true;
    this.plot = new uPlot(opts, data, this.plotBox);
    this.quiet = false;
    this.plot.over.addEventListener("dblclick", () => this.resetZoom());
    charts.set(this.key, this.plot);
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: 220 });
    });
    this.resize.observe(this.plotBox);
  }

  /** Free the plot (the panel can draw again). */
  destroy(): void {
    this.resize?.disconnect();
    this.resize = null;
    if (this.plot) {
      if (charts.get(this.key) === this.plot) charts.delete(this.key);
      this.plot.destroy();
      this.plot = null;
    }
  }
}

/** The numeric metric keys worth a chart: user keys (not `_step`, `_runtime`, ...). */
export function chartKeys(keys: Iterable<string>): string[] {
  return [...new Set(keys)].filter((k) => !k.startsWith("_") && !k.startsWith("system/"))
    .sort((a, b) => a.localeCompare(b));
}

/** A section name for a metric: its prefix before the last "/" ("train/loss" → "train"). */
export function section(key: string): string {
  const at = key.lastIndexOf("/");
  return at > 0 ? key.slice(0, at) : "";
}

/** Panels grouped into sections by prefix (unprefixed metrics first), with a search box
 * that hides the panels whose key does not contain the text. */
export function chartSections(panels: ChartPanel[]): HTMLElement {
  const groups = new Map<string, ChartPanel[]>();
  for (const p of panels) {
    const name = section(p.key);
    groups.set(name, [...(groups.get(name) ?? []), p]);
  }
  const names = [...groups.keys()].sort((a, b) => (a === "" ? -1 : b === "" ? 1
    : a.localeCompare(b)));
  const sections = names.map((name) => h("details", { class: "chart-section", open: true,
    "data-section": name },
  h("summary", null, name || "Charts", h("span", { class: "muted" },
    ` (${groups.get(name)!.length})`)),
  h("div", { class: "charts" }, groups.get(name)!.map((p) => p.el))));
  const search = h("input", { type: "search", class: "metric-search",
    placeholder: "Search metrics", "aria-label": "search metrics" });
  search.addEventListener("input", () => {
    const text = search.value.trim().toLowerCase();
    for (const p of panels) p.el.hidden = !!text && !p.key.toLowerCase().includes(text);
    for (const el of sections) {
      el.hidden = [...el.querySelectorAll<HTMLElement>(".panel")].every((p) => p.hidden);
    }
  });
  return h("div", { class: "chart-sections" }, search, sections);
}

/** Keys per series request: one answer for several panels shares the server's per-run
 * work (resolving the runs, their tiers, parsing live rows) among them. */
export const KEYS_PER_REQUEST = 4;
/** How far outside the viewport a panel counts as about to be seen (fetched ahead). */
const AHEAD = "300px";

/** Whether `el` is shown and within the viewport (plus the look-ahead margin). */
function inView(el: HTMLElement): boolean {
  if (el.hidden || !el.isConnected) return false;
  const box = el.getBoundingClientRect();
  if (!box.width && !box.height) return false;
  const margin = parseInt(AHEAD, 10);
  return box.bottom >= -margin && box.top <= window.innerHeight + margin
    && box.right >= 0 && box.left <= window.innerWidth;
}

let generation = 0;
let observer: IntersectionObserver | null = null;
/** The generation whose panels in view are still being fetched (0: none). */
let filling = 0;

/** Forget the draws under way (their answers and the panels they wait to see). */
export function stopDrawing(): void {
  generation++;
  filling = 0;
  observer?.disconnect();
  observer = null;
}

/** Fetch and draw `panels` for `runs`: the panels in view now first, in page order, several
 * keys per request and two requests at a time; each other panel when it scrolls into view
 * (an IntersectionObserver). Resolves once the panels in view are drawn. A later call
 * supersedes this one: panels it has not reached yet are left to the newer call.
 *
 * `live` (a poll for running runs' new points) refreshes only the drawn panels in view,
 * and not at all while a draw is still fetching: it never supersedes one. */
export async function drawPanels(panels: ChartPanel[], runs: ChartRun[],
    fetchSeries: (keys: string[], buckets: number, range?: StepRange) => Promise<SeriesAnswer>,
    live = false): Promise<void> {
  if (live && filling) return;
  const mine = live ? generation : ++generation;
  const fill = async (batch: ChartPanel[]): Promise<void> => {
    if (mine !== generation || !batch.length) return;
    try {
      const answer = await fetchSeries(batch.map((p) => p.key),
        Math.max(...batch.map((p) => p.width())));
      if (mine !== generation) return;  // superseded: the newer call draws these
      for (const p of batch) {
        if (live) p.update(answer, runs); else p.draw(answer, runs);
      }
    } catch (err) {
      for (const p of batch) p.fail(err instanceof Error ? err.message : String(err));
    }
  };
  const run = async (queue: ChartPanel[][], workers: number): Promise<void> => {
    let next = 0;
    const worker = async () => {
      while (next < queue.length) await fill(queue[next++]);
    };
    await Promise.all(Array.from({ length: workers }, worker));
  };
  const batches = (list: ChartPanel[]): ChartPanel[][] => {
    const out: ChartPanel[][] = [];
    // The first visible panel alone, so the first chart does not wait for its neighbours.
    if (list.length) out.push([list[0]]);
    for (let i = 1; i < list.length; i += KEYS_PER_REQUEST) {
      out.push(list.slice(i, i + KEYS_PER_REQUEST));
    }
    return out;
  };
  if (live) {
    await run(chunk(panels.filter((p) => p.drawn && inView(p.el)), KEYS_PER_REQUEST), 2);
    return;
  }
  observer?.disconnect();
  observer = null;
  for (const panel of panels) {
    panel.fetchRange = (range, buckets) => fetchSeries([panel.key], buckets, range);
  }
  const now = panels.filter((p) => inView(p.el));
  const later = new Set(panels.filter((p) => !now.includes(p)));  // hidden ones too
  if (typeof IntersectionObserver === "undefined") {
    now.push(...later);
    later.clear();
  }
  if (later.size) {
    let waiting: ChartPanel[] = [];
    let timer = 0;
    const byEl = new Map([...later].map((p) => [p.el as Element, p]));
    const seen = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const panel = byEl.get(entry.target);
        if (!entry.isIntersecting || !panel || !later.has(panel)) continue;
        later.delete(panel);
        seen.unobserve(entry.target);
        waiting.push(panel);
      }
      if (!later.size) seen.disconnect();
      // Panels that come into view together (a scroll) share requests.
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        const order = new Map(panels.map((p, i) => [p, i]));
        const batch = waiting.sort((a, b) => order.get(a)! - order.get(b)!);
        waiting = [];
        void run(batch.length ? chunk(batch, KEYS_PER_REQUEST) : [], 2);
      }, 50);
    }, { rootMargin: AHEAD });
    observer = seen;
    for (const p of later) seen.observe(p.el);
  }
  filling = mine;
  try {
    // The first panel's request alone, so it does not share the server with its
    // neighbours' (at a thousand runs that made the first chart wait four times as long).
    const [head, ...rest] = batches(now);
    if (head) await fill(head);
    await run(rest, 2);
  } finally {
    if (filling === mine) filling = 0;
  }
}

/** A poll for the running runs `live` of the drawn panels in view: per axis, one request
 * per few keys for only the steps from the last bucket those runs hold on (`bucket_width`),
 * appended to what each panel holds; never a full refetch. Resolves false when a panel
 * cannot append (no axis yet, the axis grew past twice the plot's width, or the server
 * refused the range): the caller then draws the panels again from scratch. Skipped (true)
 * while a draw is still fetching. */
export async function pollPanels(panels: ChartPanel[], runs: ChartRun[], live: Set<string>,
    fetchAfter: (keys: string[], buckets: number, after: AppendFrom) => Promise<SeriesAnswer>):
    Promise<boolean> {
  if (filling || !live.size) return true;
  const mine = generation;
  const axes = new Map<string, { panels: ChartPanel[]; k: number }>();
  for (const p of panels.filter((p) => p.drawn && inView(p.el))) {
    const k = p.resumeBucket(live);
    const answer = p.heldAnswer();
    if (k === null || !answer) return false;
    const id = `${answer.start}/${answer.bucketWidth}`;
    const group = axes.get(id) ?? { panels: [], k };
    group.panels.push(p);
    group.k = Math.min(group.k, k);
    axes.set(id, group);
  }
  let ok = true;
  for (const { panels: group, k } of axes.values()) {
    const held = group[0].heldAnswer()!;
    const after = { min: held.start + k * held.bucketWidth, width: held.bucketWidth };
    for (const batch of chunk(group, KEYS_PER_REQUEST)) {
      const keys = [...new Set(batch.flatMap((p) => (p.xKey === "_step" ? [p.key]
        : [p.key, p.xKey])))];
      let update: SeriesAnswer;
      try {
        update = await fetchAfter(keys, Math.max(...batch.map((p) => p.width())), after);
      } catch {
        return false;
      }
      if (mine !== generation) return true;  // a new draw took over
      for (const p of batch) ok = p.append(update, k, runs) && ok;
    }
  }
  return ok;
}

function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Call `poll` every `everyMs` (or three times as long as the last poll took, when that is
 * longer: at a thousand runs a poll is itself a multi-second request that must not keep
 * the server busy) while it answers true (a live run); paused while the tab is hidden.
 * Returns a function that stops it. */
export function repeat(poll: () => Promise<boolean>, everyMs = 5000): () => void {
  let timer = 0;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    let again = true;
    const started = performance.now();
    if (!document.hidden) {
      try {
        again = await poll();
      } catch {
        again = true;  // a failed poll is retried at the next tick
      }
    }
    const wait = Math.max(everyMs, 3 * (performance.now() - started));
    if (again && !stopped) timer = window.setTimeout(() => void tick(), wait);
  };
  timer = window.setTimeout(() => void tick(), everyMs);
  return () => { stopped = true; window.clearTimeout(timer); };
}
