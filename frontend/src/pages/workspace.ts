// /<entity>/<project>: the runs table beside one chart panel per metric for the selected runs.
import { series } from "../api";
import { ChartPanel, type ChartRun, chartKeys, chartSections, drawPanels, repeat, runColor }
  from "../chart";
import { h, path } from "../dom";
import { frame } from "../layout";
import { loadRuns, numericSummaryKeys, type UiRun } from "../runs";
import { RunsTable, columns } from "../table";

/** How many runs the workspace selects at first (the newest). */
const FIRST_SELECTED = 20;
/** The most runs one chart request may name (/api/v1/runs/series's limit). */
const MAX_CHART_RUNS = 1000;
const MAX_COLUMNS = 6;

function commonKeys(objects: Record<string, unknown>[], filter: (k: string) => boolean):
    string[] {
  const counts = new Map<string, number>();
  for (const o of objects) {
    for (const k of Object.keys(o)) if (filter(k)) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, MAX_COLUMNS).map(([k]) => k).sort();
}

export async function workspacePage(entity: string, project: string): Promise<void> {
  const crumbs = [{ text: entity }, { text: project, href: path(entity, project) }];
  const runs = await loadRuns(entity, project);
  if (runs === null) {
    frame(crumbs, h("p", { class: "error" }, `No project ${entity}/${project}.`));
    return;
  }
  const metricKeys = chartKeys(numericSummaryKeys(runs));
  const configKeys = commonKeys(runs.map((r) => r.config), () => true);
  const summaryKeys = commonKeys(runs.map((r) => r.summary), (k) => metricKeys.includes(k));
  const byPath = new Map(runs.map((r) => [r.path, r]));

  const panels = metricKeys.map((k) => new ChartPanel(k));
  const note = h("p", { class: "muted chart-note" });
  const charts = chartSections(panels);
  let pending = 0;
  const redraw = (selected: Set<string>) => {
    window.clearTimeout(pending);
    pending = window.setTimeout(() => void draw(selected), 150);
  };
  const draw = async (selected: Set<string>, live = false) => {
    const all: ChartRun[] = [...selected].map((p) => byPath.get(p)).filter(
      (r): r is UiRun => r !== undefined).map((r) => ({
      path: r.path, label: r.label, color: runColor(r.path) }));
    const chosen = all.slice(0, MAX_CHART_RUNS);
    note.textContent = all.length > chosen.length
      ? `Charts show the first ${chosen.length} of ${all.length} selected runs.` : "";
    if (!chosen.length) {
      panels.forEach((p) => p.draw({ x: "_step", start: 0, bucketWidth: 1, buckets: 0,
        runs: [] }, []));
      return;
    }
    await drawPanels(panels, chosen,
      (keys, buckets, range) => series(chosen.map((r) => r.path), keys, buckets, range), live);
  };
  const table = new RunsTable(runs, columns(entity, project, configKeys, summaryKeys),
    runs.slice(0, FIRST_SELECTED).map((r) => r.path), redraw);

  const filter = h("input", { type: "search", class: "runs-filter",
    placeholder: "Filter runs by name, id, group or tag", "aria-label": "filter runs" });
  filter.addEventListener("input", () => table.filter(filter.value));
  frame(crumbs, h("div", { class: "workspace" },
    h("section", { class: "runs" },
      h("h2", null, `Runs (${runs.length})`), filter, table.el),
    h("section", { class: "charts-box" }, note,
      metricKeys.length ? charts : h("p", { class: "muted" }, "No numeric metrics logged."))));
  await draw(table.selected);
  // Live: while runs that were running at load are selected, their new points join the
  // charts (the runs' states refresh on reload).
  repeat(async () => {
    const live = [...table.selected].some((p) => byPath.get(p)?.node.state === "running");
    if (live) await draw(table.selected, true);
    return true;
  });
}
