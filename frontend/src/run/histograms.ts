// wandb.Histogram over steps as a heatmap: one column per logged step, the value axis cut
// into cells, each cell as dark as the share of that step's counts falling in it (so the
// shape of every step shows, whatever its total). Hovering reads the step's own bin.
import { h, replace } from "../dom";
import { extent, value } from "../format";

/** One step's histogram: bin edges (one more than counts) and counts. */
export interface StepHistogram { step: number; edges: number[]; counts: number[] }

/** What the heatmap drew, kept on its canvas for the page (and tests) to read. */
export interface Heatmap {
  steps: number[];
  lo: number;
  hi: number;
  /** cells[column][row]: the share of the column's counts in that cell, row 0 at `lo`. */
  cells: number[][];
}

const ROWS = 48;
const HEIGHT = 220;

/** A history value of type `histogram` as edges and counts (`bins` or `packedBins`). */
export function decodeHistogram(step: number, v: unknown): StepHistogram | null {
  if (!v || typeof v !== "object") return null;
  const o = v as { values?: unknown; bins?: unknown;
    packedBins?: { min?: unknown; size?: unknown; count?: unknown } };
  const counts = Array.isArray(o.values) ? o.values.map(Number) : [];
  let edges: number[] = [];
  if (Array.isArray(o.bins)) edges = o.bins.map(Number);
  else if (o.packedBins && typeof o.packedBins.min === "number" &&
      typeof o.packedBins.size === "number") {
    const { min, size } = o.packedBins as { min: number; size: number };
    edges = Array.from({ length: counts.length + 1 }, (_, i) => min + i * size);
  }
  if (!counts.length || edges.length !== counts.length + 1 ||
      ![...edges, ...counts].every(Number.isFinite)) return null;
  return { step, edges, counts };
}

/** Spread each step's counts over ROWS equal cells of [lo, hi], by overlap. */
export function heatmapCells(list: StepHistogram[]): Heatmap {
  const lo = extent(list.map((s) => s.edges[0]))[0];
  let hi = extent(list.map((s) => s.edges[s.edges.length - 1]))[1];
  if (hi <= lo) hi = lo + 1;
  const cell = (hi - lo) / ROWS;
  const cells = list.map((s) => {
    const col = new Array<number>(ROWS).fill(0);
    const total = s.counts.reduce((a, b) => a + b, 0) || 1;
    s.counts.forEach((c, i) => {
      const a = s.edges[i], b = s.edges[i + 1];
      if (b <= a) {  // a zero-width bin: all in the cell holding it
        col[Math.min(ROWS - 1, Math.max(0, Math.floor((a - lo) / cell)))] += c / total;
        return;
      }
      for (let r = Math.max(0, Math.floor((a - lo) / cell));
        r < ROWS && lo + r * cell < b; r++) {
        const overlap = Math.min(b, lo + (r + 1) * cell) - Math.max(a, lo + r * cell);
        if (overlap > 0) col[r] += (c / total) * (overlap / (b - a));
      }
    });
    return col;
  });
  return { steps: list.map((s) => s.step), lo, hi, cells };
}

function accent(el: HTMLElement): [number, number, number] {
  const css = getComputedStyle(el).getPropertyValue("--accent").trim();
  const m = /^#([0-9a-f]{6})$/i.exec(css);
  if (!m) return [47, 111, 235];
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The heatmap of `list` (in step order) with its axes and a readout under the cursor. */
export function heatmapView(key: string, list: StepHistogram[]): HTMLElement {
  const map = heatmapCells(list);
  const canvas = h("canvas", { class: "heatmap", height: HEIGHT, "data-steps": list.length,
    "aria-label": `histogram of ${key} over steps` });
  (canvas as HTMLCanvasElement & { heatmap?: Heatmap }).heatmap = map;
  const readout = h("div", { class: "heatmap-readout muted" }, "\u00a0");
  const box = h("div", { class: "heatmap-box" },
    h("div", { class: "heatmap-y" }, h("span", null, value(map.hi)),
      h("span", null, value(map.lo))),
    canvas,
    h("div", { class: "heatmap-x muted" }, h("span", null, `step ${map.steps[0]}`),
      h("span", null, `step ${map.steps[map.steps.length - 1]}`)),
    readout);
  const draw = () => {
    const width = Math.max(200, Math.floor(canvas.clientWidth || 560));
    canvas.width = width;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const [r, g, b] = accent(canvas);
    ctx.clearRect(0, 0, width, HEIGHT);
    const colW = width / map.cells.length, rowH = HEIGHT / ROWS;
    // Whole-pixel cell edges shared by neighbours, so cells neither overlap nor leave gaps.
    map.cells.forEach((col, i) => {
      const peak = Math.max(...col) || 1;
      const x0 = Math.round(i * colW), x1 = Math.max(x0 + 1, Math.round((i + 1) * colW));
      col.forEach((share, row) => {
        if (share <= 0) return;
        const y0 = Math.round(HEIGHT - (row + 1) * rowH), y1 = Math.round(HEIGHT - row * rowH);
        ctx.fillStyle = `rgba(${r}, ${g}, ${b}, ${(0.08 + 0.92 * share / peak).toFixed(3)})`;
        ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
      });
    });
  };
  canvas.addEventListener("mousemove", (ev) => {
    const rect = canvas.getBoundingClientRect();
    const i = Math.min(list.length - 1, Math.max(0,
      Math.floor((ev.clientX - rect.left) / rect.width * list.length)));
    const y = map.hi - (ev.clientY - rect.top) / rect.height * (map.hi - map.lo);
    const s = list[i];
    const bin = s.edges.findIndex((e, j) => j < s.counts.length && y >= e &&
      y <= s.edges[j + 1]);
    replace(readout, bin < 0 ? `step ${s.step}` : `step ${s.step}: [${value(s.edges[bin])}, ` +
      `${value(s.edges[bin + 1])}] count ${value(s.counts[bin])}`);
  });
  new ResizeObserver(draw).observe(canvas);
  queueMicrotask(draw);
  return box;
}
