// wandb.plot.confusion_matrix (preset wandb/confusion_matrix/v1): its table has a row per
// (actual, predicted) pair with the count; drawn as a grid, actual classes down the side and
// predicted ones along the bottom, each cell as dark as its share of the largest count and
// labelled with the count. Class names are Text nodes, never markup.
import { value } from "../format";
import type { TableJson } from "./media";
import { column, cut, num, s } from "./svg";

const W = 560, H = 360;
const M = { left: 110, right: 16, top: 12, bottom: 70 };

/** The grid of `table` (fields `Actual`, `Predicted`, `nPredictions` name its columns), or
 * null when those columns are missing. Pairs listed twice are added. */
export function confusionMatrix(table: TableJson, fields: Record<string, string>):
    SVGElement | null {
  const ai = column(table, fields.Actual), pi = column(table, fields.Predicted);
  const ci = column(table, fields.nPredictions);
  if (ai < 0 || pi < 0 || ci < 0) return null;
  // Classes in the order the table first names them (the SDK lists them in class order).
  const classes: string[] = [];
  const seen = new Set<string>();
  const cells = new Map<string, { actual: string; predicted: string; count: number }>();
  for (const row of table.data) {
    const count = num(row[ci]);
    if (count === null) continue;
    const actual = value(row[ai]), predicted = value(row[pi]);
    for (const c of [actual, predicted]) if (!seen.has(c)) { seen.add(c); classes.push(c); }
    const key = JSON.stringify([actual, predicted]);
    const cell = cells.get(key);
    if (cell) cell.count += count; else cells.set(key, { actual, predicted, count });
  }
  if (!classes.length) return null;
  const index = new Map(classes.map((c, i) => [c, i]));
  const n = classes.length;
  const size = Math.min((W - M.left - M.right) / n, (H - M.top - M.bottom) / n);
  const max = Math.max(...[...cells.values()].map((c) => c.count), 0) || 1;
  const marks: SVGElement[] = [];
  for (const c of cells.values()) {
    const x = M.left + index.get(c.predicted)! * size, y = M.top + index.get(c.actual)! * size;
    const share = Math.max(0, c.count) / max;
    marks.push(s("rect", { class: "plot-cell", x: x.toFixed(2), y: y.toFixed(2),
      width: size.toFixed(2), height: size.toFixed(2), "fill-opacity": (0.06 + 0.94 * share)
        .toFixed(3), "data-actual": c.actual, "data-predicted": c.predicted,
      "data-count": c.count },
    s("title", {}, `actual ${c.actual}, predicted ${c.predicted}: ${value(c.count)}`)));
    if (size >= 16) {
      marks.push(s("text", { x: (x + size / 2).toFixed(2), y: (y + size / 2 + 4).toFixed(2),
        "text-anchor": "middle", class: share > 0.55 ? "cell-count on-dark" : "cell-count" },
      value(c.count)));
    }
  }
  // Tick labels cut to what fits (the full names are in the cells' tooltips).
  const ticks: SVGElement[] = [];
  if (size >= 8) {
    const across = Math.max(3, Math.floor(size / 6.5));
    classes.forEach((c, i) => {
      ticks.push(s("text", { x: (M.left + (i + 0.5) * size).toFixed(2), y: H - M.bottom + 14,
        "text-anchor": "middle", class: "tick predicted", "data-label": c }, cut(c, across)));
      ticks.push(s("text", { x: M.left - 6, y: (M.top + (i + 0.5) * size + 4).toFixed(2),
        "text-anchor": "end", class: "tick actual", "data-label": c }, cut(c, 16)));
    });
  }
  const mid = M.top + n * size / 2;
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot-svg confusion" },
    ...marks, ...ticks,
    s("text", { x: (M.left + n * size / 2).toFixed(2), y: H - M.bottom + 36,
      "text-anchor": "middle", class: "axis-title" }, fields.Predicted),
    s("text", { x: 12, y: mid.toFixed(2), "text-anchor": "middle", class: "axis-title",
      transform: `rotate(-90 12 ${mid.toFixed(2)})` }, fields.Actual));
}
