// wandb.plot charts (line, scatter, bar, histogram, line series, PR and ROC curves, confusion
// matrix) drawn from the tables the SDK logged for them. The SDK stores the chart under the
// config's `_wandb.visualize.<key>` (its preset id and which table column is which field)
// and the table as the history key `<key>_table`. Charts are SVG built from nodes (no markup
// strings); every mark carries its data values as attributes. Other (custom Vega) specs are
// shown as a note and their table.
import { h, replace } from "../dom";
import { extent, value } from "../format";
import { runColor } from "../chart";
import { confusionMatrix } from "./confusion";
import type { TableJson } from "./media";
import { column, cut, num, s } from "./svg";

/** One chart the run asked for: its key, the history key of its table, its preset, its
 * field-to-column map and strings. */
export interface PlotSpec {
  key: string;
  tableKey: string;
  preset: string;
  fields: Record<string, string>;
  strings: Record<string, string>;
}

/** The charts in a run's raw config (`_wandb.visualize`). */
export function plotSpecs(config: string | null): PlotSpec[] {
  let raw: unknown;
  try {
    raw = JSON.parse(config ?? "{}");
  } catch {
    return [];
  }
  const wb = (raw as { _wandb?: { value?: { visualize?: unknown } } })?._wandb?.value;
  const vis = wb?.visualize;
  if (!vis || typeof vis !== "object") return [];
  const out: PlotSpec[] = [];
  for (const [key, v] of Object.entries(vis as Record<string, unknown>)) {
    const pc = (v as { panel_config?: { panelDefId?: unknown; fieldSettings?: unknown;
      stringSettings?: unknown } })?.panel_config;
    if (!pc || typeof pc.panelDefId !== "string") continue;
    const strMap = (o: unknown) => Object.fromEntries(Object.entries(
      o && typeof o === "object" ? o : {}).filter(([, x]) => typeof x === "string")) as
      Record<string, string>;
    out.push({ key, tableKey: tableKey(pc) ?? `${key}_table`, preset: pc.panelDefId,
      fields: strMap(pc.fieldSettings), strings: strMap(pc.stringSettings) });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** The `tableKey` argument of the chart's query (`<key>_table`, or under "Custom Chart
 * Tables/" for a split table), found wherever it sits in the query. */
function tableKey(node: unknown): string | null {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = tableKey(item);
      if (found) return found;
    }
    return null;
  }
  if (!node || typeof node !== "object") return null;
  const o = node as Record<string, unknown>;
  if (o.name === "tableKey" && typeof o.value === "string") return o.value;
  for (const v of Object.values(o)) {
    const found = tableKey(v);
    if (found) return found;
  }
  return null;
}

const W = 560, H = 300, M = { left: 56, right: 16, top: 16, bottom: 40 };

interface Scale { at: (v: number) => number; lo: number; hi: number }

function scale(values: number[], from: number, to: number, zero = false): Scale {
  let [lo, hi] = extent(zero ? [...values, 0] : values);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) { lo = 0; hi = 1; }
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  return { lo, hi, at: (v) => from + (v - lo) / (hi - lo) * (to - from) };
}

function frame(x: Scale | null, y: Scale, xTitle: string, yTitle: string): SVGElement[] {
  const axis = { stroke: "currentColor", "stroke-opacity": 0.4 };
  const text = (tx: number, ty: number, t: string, anchor: string, cls = "tick") =>
    s("text", { x: tx, y: ty, "text-anchor": anchor, class: cls }, t);
  const out = [
    s("line", { x1: M.left, y1: H - M.bottom, x2: W - M.right, y2: H - M.bottom, ...axis }),
    s("line", { x1: M.left, y1: M.top, x2: M.left, y2: H - M.bottom, ...axis }),
    text(M.left - 6, y.at(y.hi) + 4, value(y.hi), "end"),
    text(M.left - 6, y.at(y.lo) + 4, value(y.lo), "end"),
    text((M.left + W - M.right) / 2, H - 6, xTitle, "middle", "axis-title"),
    s("text", { x: 12, y: (M.top + H - M.bottom) / 2, "text-anchor": "middle",
      class: "axis-title", transform: `rotate(-90 12 ${(M.top + H - M.bottom) / 2})` }, yTitle),
  ];
  if (x) {
    out.push(text(x.at(x.lo), H - M.bottom + 14, value(x.lo), "start"),
      text(x.at(x.hi), H - M.bottom + 14, value(x.hi), "end"));
  }
  return out;
}

/** Points grouped by `group` (one colour each), in table order; lines join them in x order
 * (ties by y: a ROC curve's vertical steps). `unit`: both axes span at least [0, 1] (rates). */
function xyMarks(table: TableJson, spec: PlotSpec, kind: "line" | "scatter", xf: string,
    yf: string, groupField?: string, unit = false): Element | null {
  const xi = column(table, spec.fields[xf]), yi = column(table, spec.fields[yf]);
  const gi = column(table, groupField ? spec.fields[groupField] : undefined);
  if (xi < 0 || yi < 0) return null;
  const pts = table.data.map((r) => ({ x: num(r[xi]), y: num(r[yi]),
    g: gi >= 0 ? value(r[gi]) : "" })).filter((p): p is { x: number; y: number; g: string } =>
    p.x !== null && p.y !== null);
  const bounds = unit ? [0, 1] : [];
  const x = scale([...pts.map((p) => p.x), ...bounds], M.left, W - M.right);
  const y = scale([...pts.map((p) => p.y), ...bounds], H - M.bottom, M.top);
  const groups = new Map<string, typeof pts>();
  for (const p of pts) {
    const list = groups.get(p.g);
    if (list) list.push(p); else groups.set(p.g, [p]);
  }
  const marks: SVGElement[] = [];
  for (const [g, list] of groups) {
    const color = runColor(g || spec.key);
    if (kind === "line") {
      const sorted = list.slice().sort((a, b) => a.x - b.x || a.y - b.y);
      marks.push(s("polyline", { class: "plot-line", fill: "none", stroke: color,
        "stroke-width": 2, "data-group": g,
        points: sorted.map((p) => `${x.at(p.x).toFixed(2)},${y.at(p.y).toFixed(2)}`)
          .join(" ") }));
    }
    for (const p of list) {
      marks.push(s("circle", { class: "plot-point", cx: x.at(p.x).toFixed(2),
        cy: y.at(p.y).toFixed(2), r: kind === "line" ? 2 : 3.5, fill: color,
        "data-x": p.x, "data-y": p.y, "data-group": g }, s("title", {},
        `${g ? g + ": " : ""}${value(p.x)}, ${value(p.y)}`)));
    }
  }
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot-svg" },
    ...frame(x, y, spec.strings["x-axis-title"] || (spec.fields[xf] ?? xf),
      spec.strings["y-axis-title"] || (spec.fields[yf] ?? yf)), ...marks);
  if (groups.size < 2) return svg;
  return h("div", null, svg, h("div", { class: "plot-legend" }, [...groups.keys()].map((g) => {
    const swatch = h("span", { class: "swatch" });
    swatch.style.background = runColor(g || spec.key);
    return h("span", { class: "plot-legend-item", "data-group": g }, swatch, g);
  })));
}

function bars(labels: string[], values: number[], xTitle: string, yTitle: string,
    color: string): SVGElement {
  const y = scale(values, H - M.bottom, M.top, true);
  const slot = (W - M.left - M.right) / Math.max(1, labels.length);
  const marks = labels.map((label, i) => {
    const top = y.at(Math.max(0, values[i])), base = y.at(Math.min(0, values[i]));
    return s("rect", { class: "plot-bar", x: (M.left + i * slot + slot * 0.1).toFixed(2),
      y: top.toFixed(2), width: (slot * 0.8).toFixed(2),
      height: Math.max(0.5, base - top).toFixed(2), fill: color, "data-label": label,
      "data-value": values[i] }, s("title", {}, `${label}: ${value(values[i])}`));
  });
  // Labels cut to what fits under their bar (the full one is the bar's tooltip).
  const fits = Math.max(3, Math.floor(slot / 6.5));
  const ticks = labels.length <= 20 ? labels.map((label, i) => s("text", {
    x: (M.left + (i + 0.5) * slot).toFixed(2), y: H - M.bottom + 14, "text-anchor": "middle",
    class: "tick", "data-label": label },
  cut(label, fits))) : [];
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot-svg" },
    ...frame(null, y, xTitle, yTitle), ...marks, ...ticks);
}

/** The chart for `spec` from its table, or null when the preset is not one drawn here. */
export function plotView(spec: PlotSpec, table: TableJson): Element | null {
  const color = runColor(spec.key);
  switch (spec.preset) {
    case "wandb/line/v0":
      return xyMarks(table, spec, "line", "x", "y", "stroke");
    case "wandb/scatter/v0":
      return xyMarks(table, spec, "scatter", "x", "y");
    case "wandb/lineseries/v0":
      return xyMarks(table, spec, "line", "step", "lineVal", "lineKey");
    case "wandb/area-under-curve/v0":  // wandb.plot.pr_curve and roc_curve: a line per class
      return xyMarks(table, spec, "line", "x", "y", "class", true);
    case "wandb/confusion_matrix/v1":
      return confusionMatrix(table, spec.fields);
    case "wandb/bar/v0": {
      const li = column(table, spec.fields.label), vi = column(table, spec.fields.value);
      if (li < 0 || vi < 0) return null;
      const rows = table.data.filter((r) => num(r[vi]) !== null);
      return bars(rows.map((r) => value(r[li])), rows.map((r) => num(r[vi]) as number),
        spec.fields.label, spec.fields.value, color);
    }
    case "wandb/histogram/v0": {
      const vi = column(table, spec.fields.value);
      if (vi < 0) return null;
      const vals = table.data.map((r) => num(r[vi])).filter((v): v is number => v !== null);
      if (!vals.length) return null;
      const n = Math.min(30, Math.max(1, Math.ceil(Math.sqrt(vals.length))));
      const [lo, hi] = extent(vals);
      const w = (hi - lo) / n || 1;
      const counts = new Array<number>(n).fill(0);
      for (const v of vals) counts[Math.min(n - 1, Math.floor((v - lo) / w))]++;
      return bars(counts.map((_, i) => value(lo + i * w)), counts, spec.fields.value,
        "count", color);
    }
    default:
      return null;
  }
}

/** A panel for `spec`: its title and chart (or a note and the table, as `asTable` shows it). */
export function plotPanel(spec: PlotSpec, table: TableJson | null, error?: string,
    asTable?: (table: TableJson) => HTMLElement): HTMLElement {
  const title = spec.strings.title || spec.key;
  const panel = h("section", { class: "panel media plot", "data-plot": spec.key,
    "data-preset": spec.preset }, h("h3", null, title));
  const body = h("div", { class: "plot-body" });
  panel.append(body);
  if (!table) {
    replace(body, h("p", { class: error ? "error" : "muted" }, error ?? "no table logged"));
    return panel;
  }
  const chart = plotView(spec, table);
  replace(body, chart ?? [h("p", { class: "muted plot-note" },
    `${spec.preset} is not drawn here; its table has ${table.data.length} rows.`),
  asTable?.(table)]);
  return panel;
}
