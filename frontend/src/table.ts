// The workspace's runs table: fixed columns, chosen config and summary columns, sort by any
// column (click its header), and a checkbox per run that selects it for the charts.
import { type Child, h, path, replace } from "./dom";
import { dateTime, duration, value } from "./format";
import type { UiRun } from "./runs";
import { runColor } from "./chart";

export interface Column {
  id: string;
  title: string;
  /** The value sorted on. */
  get: (run: UiRun) => unknown;
  /** The cell's content (text by default). */
  show?: (run: UiRun) => Child;
  numeric?: boolean;
}

function compare(a: unknown, b: unknown): number {
  const missing = (v: unknown) => v === null || v === undefined || v === "";
  if (missing(a) || missing(b)) return missing(a) === missing(b) ? 0 : missing(a) ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return value(a).localeCompare(value(b), undefined, { numeric: true });
}

/** The table's columns for a project: the run's own fields, then config and summary keys. */
export function columns(entity: string, project: string, configKeys: string[],
    summaryKeys: string[]): Column[] {
  return [
    { id: "name", title: "Name", get: (r) => r.label,
      show: (r) => h("a", { href: path(entity, project, "runs", r.node.name) }, r.label) },
    { id: "state", title: "State", get: (r) => r.node.state,
      show: (r) => h("span", { class: `state ${r.node.state ?? ""}` }, r.node.state ?? "") },
    { id: "created", title: "Created", get: (r) => r.created, show: (r) => dateTime(r.created) },
    { id: "runtime", title: "Runtime", get: (r) => r.runtime, numeric: true,
      show: (r) => duration(r.runtime) },
    { id: "tags", title: "Tags", get: (r) => r.node.tags.join(","),
      show: (r) => r.node.tags.map((t) => h("span", { class: "tag" }, t)) },
    ...configKeys.map((k): Column => ({ id: `config:${k}`, title: k,
      get: (r) => r.config[k], numeric: true })),
    ...summaryKeys.map((k): Column => ({ id: `summary:${k}`, title: k,
      get: (r) => r.summary[k], numeric: true })),
  ];
}

export class RunsTable {
  readonly el: HTMLElement;
  private sortBy = "created";
  private descending = true;
  private query = "";
  readonly selected: Set<string>;

  constructor(private readonly runs: UiRun[], private readonly cols: Column[],
      selected: Iterable<string>, private readonly onSelect: (paths: Set<string>) => void) {
    this.selected = new Set(selected);
    this.el = h("div", { class: "runs-table" });
    this.render();
  }

  /** Show only the runs whose name, id, group or tags contain `text` (case-insensitive). */
  filter(text: string): void {
    this.query = text.trim().toLowerCase();
    this.render();
  }

  private matches(run: UiRun): boolean {
    if (!this.query) return true;
    const n = run.node;
    return [run.label, n.name, n.group ?? "", ...n.tags].some(
      (t) => t.toLowerCase().includes(this.query));
  }

  /** The runs the filter shows, in the table's current order. */
  ordered(): UiRun[] {
    const col = this.cols.find((c) => c.id === this.sortBy) ?? this.cols[0];
    const sign = this.descending ? -1 : 1;
    return this.runs.filter((r) => this.matches(r)).sort((a, b) => {
      const c = compare(col.get(a), col.get(b));
      // Missing values stay last in either direction.
      const va = col.get(a), vb = col.get(b);
      const gone = (v: unknown) => v === null || v === undefined || v === "";
      return gone(va) || gone(vb) ? c : sign * c;
    });
  }

  private sort(id: string): void {
    if (this.sortBy === id) this.descending = !this.descending;
    else { this.sortBy = id; this.descending = id === "created"; }
    this.render();
  }

  private toggle(run: UiRun, on: boolean): void {
    if (on) this.selected.add(run.path); else this.selected.delete(run.path);
    this.onSelect(this.selected);
  }

  private render(): void {
    const rows = this.ordered();
    const all = h("input", { type: "checkbox", title: "select all",
      "aria-label": "select all runs" });
    all.checked = rows.length > 0 && rows.every((r) => this.selected.has(r.path));
    all.addEventListener("change", () => {
      for (const r of rows) if (all.checked) this.selected.add(r.path);
      else this.selected.delete(r.path);
      this.render();
      this.onSelect(this.selected);
    });
    const head = h("tr", null, h("th", { class: "pick" }, all), this.cols.map((c) => {
      const mark = c.id === this.sortBy ? (this.descending ? " ▼" : " ▲") : "";
      return h("th", { class: c.numeric ? "num" : null, "data-col": c.id,
        "aria-sort": c.id === this.sortBy ? (this.descending ? "descending" : "ascending")
          : null },
      h("button", { type: "button", class: "sort", onclick: () => this.sort(c.id) },
        c.title, mark));
    }));
    const body = rows.map((run) => {
      const box = h("input", { type: "checkbox", "aria-label": `select ${run.label}` });
      box.checked = this.selected.has(run.path);
      box.addEventListener("change", () => this.toggle(run, box.checked));
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = runColor(run.path);
      return h("tr", { "data-run": run.node.name },
        h("td", { class: "pick" }, box, swatch),
        this.cols.map((c) => h("td", { class: c.numeric ? "num" : null },
          c.show ? c.show(run) : value(c.get(run)))));
    });
    replace(this.el, h("table", { class: "grid" }, h("thead", null, head),
      h("tbody", null, body)));
  }
}
