// The run's media tab: images logged with wandb.Image, one at a time with a step slider,
// tables logged with wandb.Table, read from their table.json and shown as a table with
// paging and sort, and wandb.Html in a sandboxed frame. Media files come through the run's
// signed file URLs.
import { historyRows, request, sitePath } from "../api";
import { h, replace } from "../dom";
import { value } from "../format";
import type { UiRun } from "../runs";
import { runFiles } from "./files";

interface MediaRef { step: number; paths: string[]; caption: string | null }

/** Keys of the run's history holding values of one of `types` (from `historyKeys`). */
export function mediaKeys(run: UiRun, types: string[]): string[] {
  const keys = run.node.historyKeys?.keys ?? {};
  return Object.entries(keys).filter(([, info]) => (info.typeCounts ?? []).some(
    (t) => types.includes(t.type))).map(([k]) => k).sort((a, b) => a.localeCompare(b));
}

/** The media files of one key per step: `image-file` / `table-file` values name one path,
 * `images/separated` several (`filenames`). */
function refs(rows: unknown[][]): MediaRef[] {
  const out: MediaRef[] = [];
  for (const [step, v] of rows) {
    if (!v || typeof v !== "object" || typeof step !== "number") continue;
    const o = v as { path?: unknown; filenames?: unknown; caption?: unknown;
      captions?: unknown };
    const paths = typeof o.path === "string" ? [o.path]
      : Array.isArray(o.filenames) ? o.filenames.filter((f) => typeof f === "string")
        .map((f) => (f.startsWith("media/") ? f : `media/images/${f}`)) : [];
    if (!paths.length) continue;
    const caption = typeof o.caption === "string" ? o.caption
      : Array.isArray(o.captions) ? o.captions.join(", ") : null;
    out.push({ step, paths, caption });
  }
  return out;
}

async function urls(entity: string, project: string, name: string, paths: string[]):
    Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < paths.length; i += 1000) {
    for (const f of await runFiles(entity, project, name, paths.slice(i, i + 1000))) {
      if (f.url) out.set(f.name, sitePath(f.url));
    }
  }
  return out;
}

/** A slider over `refs` calling `show` with the chosen one. */
function stepSlider(key: string, list: MediaRef[], show: (ref: MediaRef) => void):
    HTMLElement {
  const label = h("span", { class: "step-label" });
  const slider = h("input", { type: "range", min: 0, max: list.length - 1, step: 1,
    value: list.length - 1, "aria-label": `step of ${key}`, class: "step-slider" });
  const pick = () => {
    const ref = list[Number(slider.value)];
    label.textContent = `step ${ref.step}`;
    show(ref);
  };
  slider.addEventListener("input", pick);
  slider.hidden = list.length < 2;  // one step: nothing to slide
  queueMicrotask(pick);
  return h("div", { class: "slider-row" }, slider, label);
}

async function imagePanel(entity: string, project: string, name: string, path: string,
    key: string): Promise<HTMLElement> {
  const list = refs((await historyRows(path, [key])).rows);
  const links = await urls(entity, project, name, [...new Set(list.flatMap((r) => r.paths))]);
  const frame = h("div", { class: "media-images" });
  const caption = h("p", { class: "muted caption" });
  const panel = h("section", { class: "panel media", "data-media": key }, h("h3", null, key));
  if (!list.length) return panel;
  panel.append(stepSlider(key, list, (ref) => {
    replace(frame, ref.paths.map((p) => h("img", { src: links.get(p) ?? "", alt: p,
      "data-path": p, "data-step": ref.step })));
    caption.textContent = ref.caption ?? "";
  }), frame, caption);
  return panel;
}

/** The rows of a table.json: `columns` and `data` (rows of cells). */
export interface TableJson { columns: string[]; data: unknown[][] }

const TABLE_PAGE = 50;

/** A table with paging and sort by any column (click its header). */
export function tableView(table: TableJson): HTMLElement {
  const box = h("div", { class: "media-table" });
  let sortBy = -1;
  let descending = false;
  let page = 0;
  const render = () => {
    const rows = table.data.map((r, i) => ({ r, i }));
    if (sortBy >= 0) {
      rows.sort((a, b) => {
        const x = a.r[sortBy], y = b.r[sortBy];
        const c = typeof x === "number" && typeof y === "number" ? x - y
          : value(x).localeCompare(value(y), undefined, { numeric: true });
        return descending ? -c : c;
      });
    }
    const pages = Math.max(1, Math.ceil(rows.length / TABLE_PAGE));
    page = Math.min(page, pages - 1);
    const shown = rows.slice(page * TABLE_PAGE, (page + 1) * TABLE_PAGE);
    const pager = (text: string, to: number) => h("button", { type: "button",
      class: "pager", disabled: to < 0 || to >= pages || to === page,
      onclick: () => { page = to; render(); } }, text);
    replace(box, h("table", { class: "grid" },
      h("thead", null, h("tr", null, table.columns.map((c, i) => h("th", null,
        h("button", { type: "button", class: "sort", onclick: () => {
          descending = sortBy === i ? !descending : false;
          sortBy = i;
          render();
        } }, c, sortBy === i ? (descending ? " ▼" : " ▲") : ""))))),
      h("tbody", null, shown.map(({ r }) => h("tr", null, r.map((cell) =>
        h("td", { class: typeof cell === "number" ? "num" : null }, value(cell))))))),
    h("div", { class: "table-pager" }, pager("Prev", page - 1),
      h("span", { class: "muted" }, `rows ${rows.length ? page * TABLE_PAGE + 1 : 0}–` +
        `${page * TABLE_PAGE + shown.length} of ${rows.length}`), pager("Next", page + 1)));
  };
  render();
  return box;
}

async function tablePanel(entity: string, project: string, name: string, path: string,
    key: string): Promise<HTMLElement> {
  const list = refs((await historyRows(path, [key])).rows);
  const links = await urls(entity, project, name, [...new Set(list.flatMap((r) => r.paths))]);
  const body = h("div", null);
  const panel = h("section", { class: "panel media wide", "data-media": key },
    h("h3", null, key));
  if (!list.length) return panel;
  let shownPath = "";
  panel.append(stepSlider(key, list, (ref) => {
    const file = ref.paths[0];
    shownPath = file;
    const url = links.get(file);
    if (!url) { replace(body, h("p", { class: "error" }, `missing file ${file}`)); return; }
    void request(url).then((r) => r.json() as Promise<TableJson>).then((table) => {
      if (shownPath === file) replace(body, tableView(table));
    }, (err: unknown) => replace(body, h("p", { class: "error" }, String(err))));
  }), body);
  return panel;
}

async function htmlPanel(entity: string, project: string, name: string, path: string,
    key: string): Promise<HTMLElement> {
  const list = refs((await historyRows(path, [key])).rows);
  const links = await urls(entity, project, name, [...new Set(list.flatMap((r) => r.paths))]);
  const body = h("div", { class: "media-html" });
  const panel = h("section", { class: "panel media wide", "data-media": key },
    h("h3", null, key));
  if (!list.length) return panel;
  let shownPath = "";
  panel.append(stepSlider(key, list, (ref) => {
    const file = ref.paths[0];
    shownPath = file;
    const url = links.get(file);
    if (!url) { replace(body, h("p", { class: "error" }, `missing file ${file}`)); return; }
    // The server sends HTML only as an attachment; here it is shown in a sandboxed frame
    // (an empty `sandbox`: no scripts, no forms, a unique origin) from its text.
    void request(url).then((r) => r.text()).then((text) => {
      if (shownPath === file) {
        replace(body, h("iframe", { sandbox: "", srcdoc: text, class: "html-frame",
          title: `${key} (sandboxed)`, "data-path": file, referrerpolicy: "no-referrer" }));
      }
    }, (err: unknown) => replace(body, h("p", { class: "error" }, String(err))));
  }), body);
  return panel;
}

/** Fill `box` with the run's images, tables and HTML. */
export async function mediaTab(box: HTMLElement, run: UiRun, entity: string, project: string,
    name: string): Promise<void> {
  const images = mediaKeys(run, ["image-file", "images/separated"]);
  const tables = mediaKeys(run, ["table-file", "partitioned-table", "joined-table"]);
  const pages = mediaKeys(run, ["html-file"]);
  if (!images.length && !tables.length && !pages.length) {
    replace(box, h("p", { class: "muted" }, "No images or tables logged."));
    return;
  }
  const panels = await Promise.all([
    ...images.map((k) => imagePanel(entity, project, name, run.path, k)),
    ...tables.map((k) => tablePanel(entity, project, name, run.path, k)),
    ...pages.map((k) => htmlPanel(entity, project, name, run.path, k))]);
  replace(box, h("div", { class: "media-grid" }, panels));
}
