// What the wandb.plot charts (plots.ts, confusion.ts) share: SVG built from nodes (text as
// Text nodes, never markup) and reading table cells.
import type { TableJson } from "./media";

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element `tag` with `attrs` and children (strings become Text nodes). */
export function s(tag: string, attrs: Record<string, string | number>,
    ...kids: (Node | string)[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const kid of kids) el.append(kid);
  return el;
}

/** The index of table column `name` (-1 when missing or not named). */
export function column(table: TableJson, name: string | undefined): number {
  return name === undefined ? -1 : table.columns.indexOf(name);
}

/** A cell as a finite number (numeric strings too), else null. */
export const num = (x: unknown): number | null => (
  typeof x === "number" && Number.isFinite(x) ? x
    : typeof x === "string" && x.trim() !== "" && Number.isFinite(Number(x)) ? Number(x)
      : null);

/** `label` cut to `fits` characters (an ellipsis marks the cut). */
export function cut(label: string, fits: number): string {
  return label.length > fits ? `${label.slice(0, Math.max(1, fits - 1))}…` : label;
}
