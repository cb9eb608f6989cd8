// The run's media tab: images logged with wandb.Image, one at a time with a step slider,
// audio and video (wandb.Audio, wandb.Video) the same way, tables logged with wandb.Table,
// read from their table.json and shown as a table with paging and sort, wandb.Html in a
// sandboxed frame, histograms (wandb.Histogram) over steps as a heatmap, and wandb.plot
// charts drawn from their tables. Files load from this site's /api/v1/runs/file (never a
// bucket's origin: the CSP names only 'self').
import { historyRows, request, runFileUrl } from "../api";
import { h, replace } from "../dom";
import { value } from "../format";
import type { UiRun } from "../runs";
import { decodeHistogram, heatmapView, type StepHistogram } from "./histograms";
import { plotPanel, plotSpecs } from "./plots";

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
      captions?: unknown; audio?: unknown; videos?: unknown };
    const list = Array.isArray(o.audio) ? o.audio : Array.isArray(o.videos) ? o.videos : null;
    const paths = typeof o.path === "string" ? [o.path]
      : list ? list.map((x) => (x as { path?: unknown })?.path)
        .filter((p): p is string => typeof p === "string")
      : Array.isArray(o.filenames) ? o.filenames.filter((f) => typeof f === "string")
        .map((f) => (f.startsWith("media/") ? f : `media/images/${f}`)) : [];
    if (!paths.length) continue;
    const caption = typeof o.caption === "string" ? o.caption
      : Array.isArray(o.captions) ? o.captions.join(", ") : null;
    out.push({ step, paths, caption });
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

/** A panel of one media key: a slider over its steps calling `show` with each. */
async function steppedPanel(run: string, key: string, wide: boolean,
    show: (ref: MediaRef, body: HTMLElement) => void): Promise<HTMLElement> {
  const list = refs((await historyRows(run, [key])).rows);
  const body = h("div", { class: "media-body" });
  const caption = h("p", { class: "muted caption" });
  const panel = h("section", { class: `panel media${wide ? " wide" : ""}`, "data-media": key },
    h("h3", null, key));
  if (!list.length) return panel;
  panel.append(stepSlider(key, list, (ref) => {
    show(ref, body);
    caption.textContent = ref.caption ?? "";
  }), body, caption);
  return panel;
}

function imagePanel(run: string, key: string): Promise<HTMLElement> {
  return steppedPanel(run, key, false, (ref, body) => replace(body, h("div",
    { class: "media-images" }, ref.paths.map((p) => h("img", { src: runFileUrl(run, p),
      alt: p, "data-path": p, "data-step": ref.step })))));
}

const GIF = /\.gif$/i;

/** wandb.Audio and wandb.Video: the players, one per file of the step (a GIF "video" is an
 * image). */
function playerPanel(run: string, key: string, tag: "audio" | "video"): Promise<HTMLElement> {
  return steppedPanel(run, key, false, (ref, body) => replace(body, h("div",
    { class: `media-${tag}` }, ref.paths.map((p) => GIF.test(p)
      ? h("img", { src: runFileUrl(run, p), alt: p, "data-path": p, "data-step": ref.step })
      : h(tag, { src: runFileUrl(run, p), controls: true, preload: "metadata",
        "data-path": p, "data-step": ref.step })))));
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

async function tableFile(run: string, file: string): Promise<TableJson> {
  return (await request(runFileUrl(run, file))).json() as Promise<TableJson>;
}

function tablePanel(run: string, key: string): Promise<HTMLElement> {
  let shownPath = "";
  return steppedPanel(run, key, true, (ref, body) => {
    const file = ref.paths[0];
    shownPath = file;
    void tableFile(run, file).then((table) => {
      if (shownPath === file) replace(body, tableView(table));
    }, (err: unknown) => replace(body, h("p", { class: "error" }, String(err))));
  });
}

/** wandb.Html: its own document in a frame sandboxed without scripts (an empty `sandbox`:
 * no scripts, no forms, a unique origin), served with a policy allowing its inline styles
 * and no script. */
function htmlPanel(run: string, key: string): Promise<HTMLElement> {
  return steppedPanel(run, key, true, (ref, body) => {
    const file = ref.paths[0];
    replace(body, h("div", { class: "html-box" }, h("iframe", { sandbox: "",
      src: runFileUrl(run, file, "html"), class: "html-frame", title: `${key} (sandboxed)`,
      "data-path": file, referrerpolicy: "no-referrer" })));
  });
}

async function histogramPanel(run: string, key: string): Promise<HTMLElement> {
  const list = (await historyRows(run, [key])).rows
    .map(([step, v]) => (typeof step === "number" ? decodeHistogram(step, v) : null))
    .filter((x): x is StepHistogram => x !== null);
  const panel = h("section", { class: "panel media wide", "data-histogram": key },
    h("h3", null, key));
  panel.append(list.length ? heatmapView(key, list)
    : h("p", { class: "muted" }, "no histograms"));
  return panel;
}

/** The wandb.plot charts of the run, from the last table logged under `<key>_table`. */
async function plotPanels(run: UiRun): Promise<HTMLElement[]> {
  const tables = new Set(mediaKeys(run, ["table-file"]));
  return Promise.all(plotSpecs(run.node.config).map(async (spec) => {
    const key = spec.tableKey;
    if (!tables.has(key)) return plotPanel(spec, null);
    try {
      const list = refs((await historyRows(run.path, [key])).rows);
      const last = list[list.length - 1];
      return plotPanel(spec, last ? await tableFile(run.path, last.paths[0]) : null,
        undefined, tableView);
    } catch (err) {
      return plotPanel(spec, null, String(err));
    }
  }));
}

/** Media types drawn by a panel of their own; other `*-file` types get a download list. */
const SHOWN = new Set(["image-file", "images/separated", "audio-file", "audio", "video-file",
  "videos", "table-file", "partitioned-table", "joined-table", "html-file", "histogram"]);

/** Keys of media this page cannot draw (wandb.Object3D, Molecule, Plotly...): a type name
 * ending in `-file` and none of those drawn here. */
function otherMediaKeys(run: UiRun): string[] {
  const keys = run.node.historyKeys?.keys ?? {};
  return Object.entries(keys).filter(([, info]) => {
    const types = (info.typeCounts ?? []).map((t) => t.type);
    return types.some((t) => t.endsWith("-file")) && !types.some((t) => SHOWN.has(t));
  }).map(([k]) => k).sort((a, b) => a.localeCompare(b));
}

/** Media not drawn here: the file of each step, to download. */
function downloadPanel(run: string, key: string): Promise<HTMLElement> {
  return steppedPanel(run, key, false, (ref, body) => replace(body, h("p", { class: "muted" },
    "Not drawn here; download:"), h("ul", { class: "media-downloads" }, ref.paths.map((p) =>
    h("li", null, h("a", { href: runFileUrl(run, p), download: p.split("/").pop() ?? p,
      "data-path": p }, p.split("/").pop() ?? p))))));
}

/** Fill `box` with the run's media. */
export async function mediaTab(box: HTMLElement, run: UiRun): Promise<void> {
  const plots = plotSpecs(run.node.config);
  const plotTables = new Set(plots.map((p) => p.tableKey));
  const images = mediaKeys(run, ["image-file", "images/separated"]);
  const audio = mediaKeys(run, ["audio-file", "audio"]);
  const video = mediaKeys(run, ["video-file", "videos"]);
  const tables = mediaKeys(run, ["table-file", "partitioned-table", "joined-table"])
    .filter((k) => !plotTables.has(k));
  const pages = mediaKeys(run, ["html-file"]);
  const histograms = mediaKeys(run, ["histogram"]);
  const others = otherMediaKeys(run);
  if (!plots.length && ![...images, ...audio, ...video, ...tables, ...pages, ...histograms,
    ...others].length) {
    replace(box, h("p", { class: "muted" }, "No media logged."));
    return;
  }
  const panels = await Promise.all([
    plotPanels(run),
    ...images.map((k) => imagePanel(run.path, k)),
    ...audio.map((k) => playerPanel(run.path, k, "audio")),
    ...video.map((k) => playerPanel(run.path, k, "video")),
    ...histograms.map((k) => histogramPanel(run.path, k)),
    ...tables.map((k) => tablePanel(run.path, k)),
    ...pages.map((k) => htmlPanel(run.path, k)),
    ...others.map((k) => downloadPanel(run.path, k))]);
  replace(box, h("div", { class: "media-grid" }, panels));
}
