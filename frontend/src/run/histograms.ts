// wandb.Histogram over steps as a heatmap: the value axis cut into cells, each cell as dark as
// the share of its column's counts falling in it (so the shape of every column shows,
// whatever its total). A column is one logged step, or, when more steps were logged than the
// plot has pixel columns, a run of adjacent steps whose counts are added (after rebinning
// onto the shared cells): every count still shows, none is sampled away. Hovering reads the
// column's steps and the bin under the cursor. All steps come in one history request.
import { h, replace } from "../dom";
import { extent, value } from "../format";

/** One step's histogram: bin edges (one more than counts) and counts. */
export interface StepHistogram { step: number; edges: number[]; counts: number[] }

/** What the heatmap drew, kept on its canvas for the page (and tests) to read. */
export interface Heatmap {
  /** Every logged step, in order. */
  steps: number[];
  lo: number;
  hi: number;
  /** Per column, the indices into `steps` it holds: [first, end). */
  spans: [number, number][];
  /** counts[column][row]: the counts of the column's steps falling in that cell (summed,
   * spread over cells by overlap), row 0 at `lo`. */
  counts: number[][];
  /** cells[column][row]: the share of the column's counts in that cell. */
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

/** Each step's counts spread over ROWS equal cells of [lo, hi] by overlap (the shared
 * cells every step is rebinned onto). */
export function rebin(list: StepHistogram[]): { lo: number; hi: number; rows: Float64Array[] } {
  const lo = extent(list.map((s) => s.edges[0]))[0];
  let hi = extent(list.map((s) => s.edges[s.edges.length - 1]))[1];
  if (hi <= lo) hi = lo + 1;
  const cell = (hi - lo) / ROWS;
  const rows = list.map((s) => {
    const col = new Float64Array(ROWS);
    s.counts.forEach((c, i) => {
      const a = s.edges[i], b = s.edges[i + 1];
      if (b <= a) {  // a zero-width bin: all in the cell holding it
        col[Math.min(ROWS - 1, Math.max(0, Math.floor((a - lo) / cell)))] += c;
        return;
      }
      for (let r = Math.max(0, Math.floor((a - lo) / cell));
        r < ROWS && lo + r * cell < b; r++) {
        const overlap = Math.min(b, lo + (r + 1) * cell) - Math.max(a, lo + r * cell);
        if (overlap > 0) col[r] += c * (overlap / (b - a));
      }
    });
    return col;
  });
  return { lo, hi, rows };
}

/** `n` steps in at most `columns` columns: one step each when they fit, else runs of
 * adjacent steps as even as can be ([first, end) indices). */
export function spans(n: number, columns: number): [number, number][] {
  const k = Math.max(1, Math.min(n, Math.floor(columns)));
  return Array.from({ length: k }, (_, i) =>
    [Math.floor(i * n / k), Math.floor((i + 1) * n / k)] as [number, number]);
}

/** The heatmap of `list` (in step order) in at most `columns` columns. */
export function heatmapCells(list: StepHistogram[], columns = Infinity,
    binned = rebin(list)): Heatmap {
  const groups = spans(list.length, columns);
  const counts = groups.map(([a, b]) => {
    const col = new Array<number>(ROWS).fill(0);
    for (let i = a; i < b; i++) {
      const row = binned.rows[i];
      for (let r = 0; r < ROWS; r++) col[r] += row[r];
    }
    return col;
  });
  const cells = counts.map((col) => {
    const total = col.reduce((x, y) => x + y, 0) || 1;
    return col.map((c) => c / total);
  });
  return { steps: list.map((s) => s.step), lo: binned.lo, hi: binned.hi, spans: groups,
    counts, cells };
}

/** The readout for the cursor at value `y` over column `col` of `map`: the step(s) it holds
 * and the bin there with its count (the steps' own bin when they share their edges, else
 * the shared cell's summed count). */
export function readoutText(list: StepHistogram[], map: Heatmap, col: number, y: number):
    string {
  const [a, b] = map.spans[col];
  const first = list[a], last = list[b - 1];
  const label = b - a === 1 ? `step ${first.step}`
    : `steps ${first.step}–${last.step} (${b - a} logged)`;
  const sameEdges = list.slice(a, b).every((s) => s.edges.length === first.edges.length &&
    s.edges.every((e, j) => e === first.edges[j]));
  if (sameEdges) {
    const bin = first.edges.findIndex((e, j) => j < first.counts.length && y >= e &&
      y <= first.edges[j + 1]);
    if (bin < 0) return label;
    let count = 0;
    for (let i = a; i < b; i++) count += list[i].counts[bin];
    return `${label}: [${value(first.edges[bin])}, ${value(first.edges[bin + 1])}] ` +
      `count ${value(count)}`;
  }
  const size = (map.hi - map.lo) / ROWS;
  const row = Math.floor((y - map.lo) / size);
  if (row < 0 || row >= ROWS) return label;
  return `${label}: [${value(map.lo + row * size)}, ${value(map.lo + (row + 1) * size)}] ` +
    `count ${value(map.counts[col][row])}`;
}

function accent(el: HTMLElement): [number, number, number] {
  const css = getComputedStyle(el).getPropertyValue("--accent").trim();
  const m = /^#([0-9a-f]{6})$/i.exec(css);
  if (!m) return [47, 111, 235];
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The heatmap of `list` (in step order) with its axes and a readout under the cursor; at
 * most one column per pixel of the canvas, recomputed when its width changes. */
export function heatmapView(key: string, list: StepHistogram[]): HTMLElement {
  const binned = rebin(list);
  let map = heatmapCells(list, Infinity, binned);
  const canvas = h("canvas", { class: "heatmap", height: HEIGHT, "data-steps": list.length,
    "aria-label": `histogram of ${key} over steps` }) as HTMLCanvasElement & {
      heatmap?: Heatmap };
  const readout = h("div", { class: "heatmap-readout muted" }, "\u00a0");
  const box = h("div", { class: "heatmap-box" },
    h("div", { class: "heatmap-y" }, h("span", null, value(binned.hi)),
      h("span", null, value(binned.lo))),
    canvas,
    h("div", { class: "heatmap-x muted" }, h("span", null, `step ${list[0].step}`),
      h("span", null, `step ${list[list.length - 1].step}`)),
    readout);
  const draw = (recolour = false) => {
    const width = Math.max(200, Math.floor(canvas.clientWidth || 560));
    if (canvas.heatmap && canvas.width === width && !recolour) return;
    if (!canvas.heatmap || canvas.width !== width) {
      canvas.width = width;
      map = heatmapCells(list, width, binned);
      canvas.heatmap = map;
      canvas.dataset.columns = String(map.cells.length);
    }
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const [r, g, b] = accent(canvas);
    // Straight into the pixels: one write per pixel, however many columns.
    const image = ctx.createImageData(width, HEIGHT);
    const px = image.data;
    const colW = width / map.cells.length, rowH = HEIGHT / ROWS;
    // Whole-pixel cell edges shared by neighbours, so cells neither overlap nor leave gaps.
    map.cells.forEach((col, i) => {
      const peak = Math.max(...col) || 1;
      const x0 = Math.round(i * colW), x1 = Math.max(x0 + 1, Math.round((i + 1) * colW));
      col.forEach((share, row) => {
        if (share <= 0) return;
        const alpha = Math.round(255 * (0.08 + 0.92 * share / peak));
        const y0 = Math.round(HEIGHT - (row + 1) * rowH), y1 = Math.round(HEIGHT - row * rowH);
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1 && x < width; x++) {
            const at = (y * width + x) * 4;
            px[at] = r; px[at + 1] = g; px[at + 2] = b; px[at + 3] = alpha;
          }
        }
      });
    });
    ctx.putImageData(image, 0, 0);
  };
  canvas.addEventListener("mousemove", (ev) => {
    // Within the canvas's content box (its border left out), where the columns are.
    const rect = canvas.getBoundingClientRect();
    const x = ev.clientX - rect.left - canvas.clientLeft;
    const yPx = ev.clientY - rect.top - canvas.clientTop;
    const n = map.spans.length, w = canvas.clientWidth || 1, hPx = canvas.clientHeight || 1;
    const col = Math.min(n - 1, Math.max(0, Math.floor(x * n / w)));  // exact when n = w
    const y = map.hi - yPx / hPx * (map.hi - map.lo);
    readout.dataset.column = String(col);
    replace(readout, readoutText(list, map, col, y));
  });
  new ResizeObserver(() => draw()).observe(canvas);
  queueMicrotask(() => draw());
  // The cells take the theme's accent colour: painted again when the theme changes.
  window.addEventListener("tracklet:theme", () => draw(true));
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change",
    () => draw(true));
  return box;
}
