// A parallel-coordinates plot on a canvas: one vertical axis per parameter and a last one
// for the metric, one line per run coloured by its metric (best = warm). Numeric axes are
// linear from min to max; other values are categories spread evenly in sorted order.
import { h } from "../dom";
import { number, value } from "../format";

export interface ParAxis {
  name: string;
  kind: "number" | "category";
  /** Numbers: [min, max]; categories: the sorted labels. */
  domain: (number | string)[];
}

export interface ParLine {
  run: string;
  /** Per axis, the run's value (null when missing). */
  values: (number | string | null)[];
  /** 0 (worst metric) .. 1 (best), null when the run has no metric. */
  score: number | null;
}

export interface ParData { axes: ParAxis[]; lines: ParLine[] }

/** Axes and lines from per-run rows (`rows[i][j]` = run i's value on axis j; the last axis
 * is the metric, scored per `minimize`). */
export function parData(names: string[], runs: string[], rows: unknown[][],
    minimize: boolean): ParData {
  const axes: ParAxis[] = names.map((name, j) => {
    const vs = rows.map((r) => r[j]).filter((v) => v !== null && v !== undefined);
    if (vs.length && vs.every((v) => typeof v === "number" && Number.isFinite(v))) {
      const ns = vs as number[];
      return { name, kind: "number", domain: [Math.min(...ns), Math.max(...ns)] };
    }
    const labels = [...new Set(vs.map((v) => value(v)))].sort();
    return { name, kind: "category", domain: labels };
  });
  const m = axes.length - 1;
  const metric = axes[m];
  const lines = rows.map((r, i): ParLine => {
    const values = r.map((v, j) => v === null || v === undefined ? null
      : axes[j].kind === "number" ? v as number : value(v));
    const mv = values[m];
    let score: number | null = null;
    if (typeof mv === "number" && metric.kind === "number") {
      const [lo, hi] = metric.domain as number[];
      const t = hi > lo ? (mv - lo) / (hi - lo) : 1;
      score = minimize ? 1 - t : t;
    }
    return { run: runs[i], values, score };
  });
  return { axes, lines };
}

/** Worst (cool blue) to best (warm orange-red). */
export function scoreColor(score: number | null): string {
  if (score === null) return "rgba(128,128,128,0.5)";
  const from = [49, 104, 187];
  const to = [232, 89, 12];
  const c = from.map((f, i) => Math.round(f + (to[i] - f) * score));
  return `rgba(${c[0]},${c[1]},${c[2]},${0.35 + 0.6 * score})`;
}

/** Position 0..1 of `v` on `axis` (0 = bottom). */
function position(axis: ParAxis, v: number | string | null): number | null {
  if (v === null) return null;
  if (axis.kind === "number") {
    const [lo, hi] = axis.domain as number[];
    return hi > lo ? ((v as number) - lo) / (hi - lo) : 0.5;
  }
  const i = axis.domain.indexOf(v as string);
  if (i < 0) return null;
  return axis.domain.length > 1 ? i / (axis.domain.length - 1) : 0.5;
}

/** The plot: a canvas drawn now and on resize; the data is exposed on window.tracklet. */
export function parCoords(data: ParData, best: string | null): HTMLElement {
  const canvas = h("canvas", { class: "parcoords", "aria-label":
    "parallel coordinates of the parameters and the metric" });
  const box = h("div", { class: "parcoords-box" }, canvas);
  if (window.tracklet) window.tracklet.parcoords = data;
  const draw = () => {
    const width = Math.max(320, box.clientWidth || 800);
    const height = 320;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.scale(ratio, ratio);
    const style = getComputedStyle(document.body);
    const fg = style.color || "#1b1f24";
    const top = 36;
    const bottom = height - 24;
    const left = 60;
    const right = width - 60;
    const n = data.axes.length;
    const xOf = (j: number) => n > 1 ? left + (right - left) * j / (n - 1) : (left + right) / 2;
    const yOf = (p: number) => bottom - (bottom - top) * p;
    const order = [...data.lines].sort((a, b) => (a.score ?? -1) - (b.score ?? -1));
    for (const line of order) {
      const isBest = line.run === best;
      ctx.strokeStyle = scoreColor(line.score);
      ctx.lineWidth = isBest ? 3.5 : 1.5;
      ctx.beginPath();
      let drawing = false;
      line.values.forEach((v, j) => {
        const p = position(data.axes[j], v);
        if (p === null) { drawing = false; return; }
        if (drawing) ctx.lineTo(xOf(j), yOf(p)); else ctx.moveTo(xOf(j), yOf(p));
        drawing = true;
      });
      ctx.stroke();
    }
    ctx.fillStyle = fg;
    ctx.strokeStyle = fg;
    ctx.lineWidth = 1;
    ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center";
    data.axes.forEach((axis, j) => {
      const x = xOf(j);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, bottom);
      ctx.stroke();
      ctx.font = "600 12px system-ui, sans-serif";
      ctx.fillText(axis.name, x, top - 18);
      ctx.font = "11px system-ui, sans-serif";
      const ticks = axis.kind === "number"
        ? (axis.domain[0] === axis.domain[1] ? [axis.domain[0]] : axis.domain)
        : axis.domain;
      for (const t of ticks) {
        const p = position(axis, t);
        if (p === null) continue;
        const label = typeof t === "number" ? number(t) : t;
        ctx.fillText(label.length > 14 ? label.slice(0, 13) + "…" : label, x,
          p >= 1 ? yOf(p) - 4 : yOf(p) + 12);
      }
    });
  };
  requestAnimationFrame(draw);
  new ResizeObserver(() => draw()).observe(box);
  return box;
}
