// The workspace's runs table: fixed columns, chosen config and summary columns, sort by any
// column (click its header), columns resized by dragging their header's right edge (a
// double click gives the column back its natural width; the page is told, to keep them), and
// a checkbox per run that selects it for the charts.
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

/** The run's own columns besides the name (which is always shown), for the chooser. */
export const RUN_COLUMNS: { id: string; title: string }[] = [
  { id: "state", title: "State" }, { id: "created", title: "Created" },
  { id: "runtime", title: "Runtime" }, { id: "tags", title: "Tags" },
  { id: "group", title: "Group" }, { id: "jobType", title: "Job type" },
  { id: "user", title: "User" }];

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
    { id: "group", title: "Group", get: (r) => r.node.group },
    { id: "jobType", title: "Job type", get: (r) => r.node.jobType },
    { id: "user", title: "User", get: (r) => r.node.user?.username },
    ...configKeys.map((k): Column => ({ id: `config:${k}`, title: k,
      get: (r) => r.config[k], numeric: true })),
    ...summaryKeys.map((k): Column => ({ id: `summary:${k}`, title: k,
      get: (r) => r.summary[k], numeric: true })),
  ];
}

/** Height of one body row in pixels (fixed, so the table can be virtualised). */
export const ROW_HEIGHT = 29;
/** Rows rendered above and below the visible ones. */
const OVERSCAN = 20;

/** A grouping of the runs: a name and the value each run is grouped by. */
export interface Grouping { id: string; get: (run: UiRun) => unknown }

type Line = { group: string; count: number; runs: UiRun[] } | UiRun;

/** The runs table, virtualised: only the rows in view (and a few around them) are in the
 * DOM, so ten thousand runs scroll as smoothly as ten. */
export class RunsTable {
  readonly el: HTMLElement;
  private readonly pad: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly head: HTMLTableSectionElement;
  private readonly body: HTMLTableSectionElement;
  private sortBy = "created";
  private descending = true;
  private query = "";
  private grouping: Grouping | null = null;
  private readonly closed = new Set<string>();
  private lines: Line[] = [];
  private window: [number, number] = [-1, -1];
  private frame = 0;
  /** Widths (px) of the columns the user resized, by column id. */
  private readonly widths = new Map<string, number>();
  readonly selected: Set<string>;

  /** Called with every resized column's width when a resize ends (or is undone). */
  onResize: (widths: ReadonlyMap<string, number>) => void = () => undefined;

  constructor(private runs: UiRun[], private cols: Column[],
      selected: Iterable<string>, private readonly onSelect: (paths: Set<string>) => void,
      widths: Record<string, number> = {}) {
    this.selected = new Set(selected);
    for (const [id, w] of Object.entries(widths)) this.widths.set(id, Math.max(MIN_WIDTH, w));
    this.head = h("thead");
    this.body = h("tbody");
    this.table = h("table", { class: "grid runs-grid" }, this.head, this.body);
    this.pad = h("div", { class: "runs-pad" }, this.table);
    this.el = h("div", { class: "runs-table" }, this.pad);
    this.el.addEventListener("scroll", () => {
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => { this.frame = 0; this.renderWindow(); });
    }, { passive: true });
    this.render();
  }

  /** Show only the runs whose name, id, group or tags contain `text` (case-insensitive). */
  filter(text: string): void {
    this.query = text.trim().toLowerCase();
    this.render();
  }

  /** New runs (a server-side filter changed): selections of runs still listed stay. */
  setRuns(runs: UiRun[]): void {
    this.runs = runs;
    this.render();
  }

  /** New columns (the column chooser). */
  setColumns(cols: Column[]): void {
    this.cols = cols;
    if (!cols.some((c) => c.id === this.sortBy)) this.sortBy = "created";
    this.render();
  }

  /** Group rows by `grouping` (null: no groups). */
  setGrouping(grouping: Grouping | null): void {
    this.grouping = grouping;
    this.closed.clear();
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
    // The creation time orders the rows while its column is hidden too.
    const col = this.cols.find((c) => c.id === this.sortBy) ??
      { get: (r: UiRun) => r.created };
    const sign = this.descending ? -1 : 1;
    const gone = (v: unknown) => v === null || v === undefined || v === "";
    const keyed = this.runs.filter((r) => this.matches(r)).map((r) => ({ r, v: col.get(r) }));
    keyed.sort((a, b) => {
      const c = compare(a.v, b.v);
      // Missing values stay last in either direction.
      return gone(a.v) || gone(b.v) ? c : sign * c;
    });
    return keyed.map((k) => k.r);
  }

  /** The groups shown, in order, with their runs (empty without a grouping). */
  groups(): { group: string; runs: UiRun[] }[] {
    if (!this.grouping) return [];
    const out = new Map<string, UiRun[]>();
    for (const r of this.ordered()) {
      const g = groupName(this.grouping.get(r));
      out.set(g, [...(out.get(g) ?? []), r]);
    }
    return [...out].sort((a, b) => compare(a[0], b[0])).map(([group, runs]) =>
      ({ group, runs }));
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

  private selectAll(runs: UiRun[], on: boolean): void {
    for (const r of runs) if (on) this.selected.add(r.path); else this.selected.delete(r.path);
    this.render();
    this.onSelect(this.selected);
  }

  private render(): void {
    const rows = this.ordered();
    if (this.grouping) {
      this.lines = [];
      for (const { group, runs } of this.groups()) {
        this.lines.push({ group, count: runs.length, runs });
        if (!this.closed.has(group)) this.lines.push(...runs);
      }
    } else {
      this.lines = rows;
    }
    const all = h("input", { type: "checkbox", title: "select all",
      "aria-label": "select all runs" });
    all.checked = rows.length > 0 && rows.every((r) => this.selected.has(r.path));
    all.addEventListener("change", () => this.selectAll(rows, all.checked));
    replace(this.head, h("tr", null, h("th", { class: "pick" }, all), this.cols.map((c) => {
      const mark = c.id === this.sortBy ? (this.descending ? " ▼" : " ▲") : "";
      return h("th", { class: c.numeric ? "num" : null, "data-col": c.id,
        "aria-sort": c.id === this.sortBy ? (this.descending ? "descending" : "ascending")
          : null },
      h("button", { type: "button", class: "sort", onclick: () => this.sort(c.id) },
        c.title, mark), this.resizeHandle(c));
    })));
    for (const th of this.head.querySelectorAll<HTMLElement>("th[data-col]")) {
      sized(th, this.widths.get(th.dataset.col ?? ""));
    }
    this.window = [-1, -1];
    this.renderWindow();
  }

  /** The drag handle on `col`'s header edge: dragging sets the column's width (header and
   * the cells in view; rows rendered later take it too). */
  private resizeHandle(col: Column): HTMLElement {
    const handle = h("span", { class: "col-resize", role: "separator",
      "aria-orientation": "vertical", "aria-label": `resize column ${col.title}`,
      "data-resize": col.id });
    handle.addEventListener("pointerdown", (ev) => {
      const th = handle.parentElement;
      if (!th) return;
      ev.preventDefault();
      ev.stopPropagation();
      handle.setPointerCapture(ev.pointerId);
      const start = ev.clientX, from = th.getBoundingClientRect().width;
      const move = (e: PointerEvent) => {
        this.setWidth(col.id, Math.max(MIN_WIDTH, Math.round(from + e.clientX - start)));
      };
      const up = () => {
        this.onResize(this.widths);
        handle.removeEventListener("pointermove", move);
        handle.removeEventListener("pointerup", up);
        handle.removeEventListener("pointercancel", up);
      };
      handle.addEventListener("pointermove", move);
      handle.addEventListener("pointerup", up);
      handle.addEventListener("pointercancel", up);
    });
    handle.addEventListener("click", (ev) => ev.stopPropagation());
    handle.addEventListener("dblclick", (ev) => {
      ev.stopPropagation();
      this.setWidth(col.id, undefined);
      this.onResize(this.widths);
    });
    return handle;
  }

  /** Give column `id` this width (undefined: its natural one). */
  setWidth(id: string, width: number | undefined): void {
    if (width === undefined) this.widths.delete(id); else this.widths.set(id, width);
    const index = this.cols.findIndex((c) => c.id === id);
    if (index < 0) return;
    const th = this.head.querySelector<HTMLElement>(`th[data-col="${CSS.escape(id)}"]`);
    if (th) sized(th, width);
    for (const row of this.body.querySelectorAll<HTMLTableRowElement>("tr[data-run]")) {
      const td = row.cells[index + 1];
      if (td) sized(td, width);
    }
  }

  private groupRow(line: { group: string; count: number; runs: UiRun[] }): HTMLElement {
    const open = !this.closed.has(line.group);
    const box = h("input", { type: "checkbox", "aria-label": `select group ${line.group}` });
    box.checked = line.runs.every((r) => this.selected.has(r.path));
    box.addEventListener("change", () => this.selectAll(line.runs, box.checked));
    return h("tr", { class: "group", "data-group": line.group },
      h("td", { class: "pick" }, box),
      h("td", { colspan: this.cols.length },
        h("button", { type: "button", class: "link group-toggle", "aria-expanded": String(open),
          onclick: () => {
            if (open) this.closed.add(line.group); else this.closed.delete(line.group);
            this.render();
          } }, open ? "▾ " : "▸ ", `${this.grouping?.id ?? ""}: ${line.group}`),
        h("span", { class: "muted" }, ` (${line.count})`)));
  }

  private runRow(run: UiRun): HTMLElement {
    const box = h("input", { type: "checkbox", "aria-label": `select ${run.label}` });
    box.checked = this.selected.has(run.path);
    box.addEventListener("change", () => this.toggle(run, box.checked));
    const swatch = h("span", { class: "swatch" });
    swatch.style.background = runColor(run.path);
    return h("tr", { "data-run": run.node.name },
      h("td", { class: "pick" }, box, swatch),
      this.cols.map((c) => sized(h("td", { class: c.numeric ? "num" : null },
        c.show ? c.show(run) : value(c.get(run))), this.widths.get(c.id))));
  }

  /** Render the rows in view; the padding above and below stands for the others. */
  private renderWindow(): void {
    const view = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.el.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.lines.length,
      Math.ceil((this.el.scrollTop + view) / ROW_HEIGHT) + OVERSCAN);
    if (first === this.window[0] && last === this.window[1]) return;
    this.window = [first, last];
    this.pad.style.paddingTop = `${first * ROW_HEIGHT}px`;
    this.pad.style.paddingBottom = `${(this.lines.length - last) * ROW_HEIGHT}px`;
    replace(this.body, this.lines.slice(first, last).map((line) =>
      "group" in line ? this.groupRow(line) : this.runRow(line)));
  }
}

/** The narrowest a resized column gets. */
const MIN_WIDTH = 48;

/** Fix `cell`'s width (through the CSSOM, which the CSP allows; undefined: natural). */
function sized<T extends HTMLElement>(cell: T, width: number | undefined): T {
  const px = width === undefined ? "" : `${width}px`;
  cell.style.width = px;
  cell.style.minWidth = px;
  cell.style.maxWidth = px;
  return cell;
}

/** A group's name for a grouped value ("(none)" when missing). */
export function groupName(v: unknown): string {
  return v === null || v === undefined || v === "" ? "(none)" : value(v);
}
