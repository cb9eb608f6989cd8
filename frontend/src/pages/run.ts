// /<entity>/<project>/runs/<run>: tabs for the run's overview (state, times, config, summary,
// one chart per metric of its history), system metrics, console, files, media and artifacts
// (the URL hash names the tab: #logs, #files...).
import { series, type StepRange } from "../api";
import { ChartPanel, chartKeys, chartSections, drawPanels, repeat, runColor }
  from "../chart";
import { type Child, h, path } from "../dom";
import { dateTime, duration, value } from "../format";
import { frame } from "../layout";
import { alertsTab } from "../run/alerts";
import { artifactsTab } from "../run/artifacts";
import { notesEditor, tagsEditor } from "../run/edit";
import { filesTab } from "../run/files";
import { consoleTab } from "../run/logs";
import { metadataFacts } from "../run/metadata";
import { mediaTab } from "../run/media";
import { systemTab } from "../run/system";
import { loadRun, numericHistoryKeys } from "../runs";
import { tabbed } from "../tabs";

/** A summary value: logged media (a `_type`d object) as a short description, not JSON. */
function summaryText(v: unknown): string {
  if (!v || typeof v !== "object" || Array.isArray(v)) return value(v);
  const o = v as { _type?: unknown; path?: unknown; nrows?: unknown; values?: unknown;
    count?: unknown };
  if (typeof o._type !== "string") return value(v);
  if (o._type === "histogram" && Array.isArray(o.values)) {
    return `histogram (${o.values.length} bins)`;
  }
  if (o._type === "table-file" && typeof o.nrows === "number") {
    return `table (${o.nrows} rows)`;
  }
  const what = typeof o.path === "string" ? ` ${o.path}`
    : typeof o.count === "number" ? ` (${o.count})` : "";
  return `${o._type}${what}`;
}

function keyValueTable(cls: string, values: Record<string, unknown>): HTMLElement {
  const keys = Object.keys(values).sort((a, b) => a.localeCompare(b));
  if (!keys.length) return h("p", { class: "muted" }, "none");
  return h("table", { class: `grid kv ${cls}` }, h("tbody", null, keys.map((k) =>
    h("tr", { "data-key": k }, h("th", null, k), h("td", null, summaryText(values[k]))))));
}

export async function runPage(entity: string, project: string, name: string): Promise<void> {
  const crumbs = [{ text: entity }, { text: project, href: path(entity, project) },
    { text: "runs" }, { text: name, href: path(entity, project, "runs", name) }];
  const run = await loadRun(entity, project, name);
  if (run === null) {
    frame(crumbs, h("p", { class: "error" }, `No run ${entity}/${project}/${name}.`));
    return;
  }
  const n = run.node;
  const facts: [string, Child][] = [
    ["State", h("span", { class: `state ${n.state ?? ""}` }, n.state ?? "")],
    ["Created", dateTime(run.created)],
    ["Runtime", duration(run.runtime)],
    ["Run ID", n.name],
    ["User", n.user?.username ?? ""],
    ["Group", n.group ?? ""],
    ["Job type", n.jobType ?? ""],
    ["Tags", tagsEditor(n.id, n.tags)],
    ["Notes", notesEditor(n.id, n.notes ?? null)],
    ["Commit", n.commit ?? ""],
  ];
  const summary = Object.fromEntries(Object.entries(run.summary).filter(
    ([k]) => !k.startsWith("_")));
  const panels = chartKeys(numericHistoryKeys(run)).map((k) => new ChartPanel(k));
  const factList = h("dl", { class: "facts" }, facts.filter(([, v]) => v !== "" &&
    !(Array.isArray(v) && !v.length)).map(([k, v]) => [h("dt", null, k),
    h("dd", { "data-fact": k }, v)]));
  // Where it ran (the SDK's wandb-metadata.json), once that file is read.
  void metadataFacts(run.path).then((more) => factList.append(...more.map(([k, v]) =>
    [h("dt", null, k), h("dd", { "data-fact": k }, v)]).flat()));
  const overview = h("div", { class: "overview" },
    h("section", null, h("h2", null, "Overview"), factList),
    h("section", null, h("h2", null, "Config"), keyValueTable("config", run.config)),
    h("section", null, h("h2", null, "Summary"), keyValueTable("summary", summary)));
  const chartRun = { path: run.path, label: run.label, color: runColor(run.path) };
  const fetchSeries = (keys: string[], buckets: number, range?: StepRange) =>
    series([run.path], keys, buckets, range);
  let state = n.state ?? "";
  const running = () => state === "running";
  frame(crumbs,
    h("h1", { class: "run-name" }, run.label),
    tabbed([
      { id: "overview", title: "Overview", render: async (box) => {
        box.append(overview, panels.length ? chartSections(panels)
          : h("p", { class: "muted" }, "No numeric metrics logged."));
        await drawPanels(panels, [chartRun], fetchSeries);
      } },
      { id: "system", title: "System", render: (box) =>
        systemTab(box, entity, project, name, run.path, run.label) },
      { id: "logs", title: "Logs", render: (box) =>
        consoleTab(box, run.path, running) },
      { id: "files", title: "Files", render: (box) => filesTab(box, entity, project, name) },
      { id: "media", title: "Media", render: (box) =>
        mediaTab(box, run) },
      { id: "artifacts", title: "Artifacts", render: (box) =>
        artifactsTab(box, entity, project, name) },
      { id: "alerts", title: "Alerts", render: (box) =>
        alertsTab(box, entity, project, name) },
    ]));
  if (n.state === "running") {
    // Live: new points join the charts (and new metrics a reload) until the run ends.
    repeat(async () => {
      const now = await loadRun(entity, project, name);
      await drawPanels(panels, [chartRun], fetchSeries, true);
      state = now?.node.state ?? "";
      const shown = document.querySelector<HTMLElement>("[data-fact=State] .state");
      if (shown && state) {
        shown.textContent = state;
        shown.className = `state ${state}`;
      }
      return state === "running";
    });
  }
}
