// /<entity>/<project>: the runs table (virtualised; filters sent to the server as api.runs
// filters; column chooser; grouping) beside one chart panel per metric for the selected
// runs (x axis choice, EMA smoothing over the raw min-max band). The columns chosen and their
// widths are kept per user and project (workspace/column_store.ts).
import { CHART_FIELDS, series, type StepRange } from "../api";
import { ChartPanel, type ChartRun, chartKeys, chartSections, drawPanels, pollPanels, repeat,
  runColor, stopDrawing } from "../chart";
import { h, path } from "../dom";
import { currentUser, frame } from "../layout";
import { loadRuns, numericSummaryKeys, type UiRun } from "../runs";
import { sweepList } from "../sweep/list";
import { type Grouping, RUN_COLUMNS, RunsTable, columns, groupName } from "../table";
import { ColumnStore } from "../workspace/column_store";
import { showCompare } from "../workspace/compare";
import { aggregate, groupRuns } from "../workspace/groups";
import { filterBar, mongoFilter } from "../workspace/filters";

/** How many runs the workspace selects at first (the newest). */
const FIRST_SELECTED = 20;
/** The most runs one chart request may name (/api/v1/runs/series's limit). */
const MAX_CHART_RUNS = 1000;
/** The most runs the table lists. */
const MAX_RUNS = 10_000;
const MAX_COLUMNS = 6;
const X_AXES = ["_step", "_runtime", "_timestamp"];

function keyCounts(objects: Record<string, unknown>[], filter: (k: string) => boolean):
    string[] {
  const counts = new Map<string, number>();
  for (const o of objects) {
    for (const k of Object.keys(o)) if (filter(k)) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k]) => k);
}

/** A checkbox list in a disclosure: the run, config and summary columns to show. */
function columnChooser(configKeys: string[], summaryKeys: string[], chosen: Set<string>,
    onChange: () => void): HTMLElement {
  const item = (id: string, label: string) => {
    const box = h("input", { type: "checkbox", "data-column": id });
    box.checked = chosen.has(id);
    box.addEventListener("change", () => {
      if (box.checked) chosen.add(id); else chosen.delete(id);
      onChange();
    });
    return h("label", { class: "check" }, box, label);
  };
  return h("details", { class: "column-chooser" }, h("summary", null, "Columns"),
    h("div", { class: "choices" },
      h("strong", null, "Run"), RUN_COLUMNS.map((c) => item(c.id, c.title)),
      h("strong", null, "Config"), configKeys.map((k) => item(`config:${k}`, k)),
      h("strong", null, "Summary"), summaryKeys.map((k) => item(`summary:${k}`, k))));
}

export async function workspacePage(entity: string, project: string): Promise<void> {
  const crumbs = [{ text: entity }, { text: project, href: path(entity, project) }];
  const [first, me] = await Promise.all([loadRuns(entity, project, MAX_RUNS),
    currentUser()]);
  if (first === null) {
    frame(crumbs, h("p", { class: "error" }, `No project ${entity}/${project}.`));
    return;
  }
  let runs: UiRun[] = first;
  const metricKeys = chartKeys(numericSummaryKeys(runs));
  const configKeys = keyCounts(runs.map((r) => r.config), () => true);
  const summaryKeys = keyCounts(runs.map((r) => r.summary), (k) => !k.startsWith("_"));
  const store = new ColumnStore(me?.username ?? "", entity, project);
  const saved = store.get();
  // The columns chosen here before, else the run's fields (group, job type and user when
  // some run has one) and the first few config and summary keys.
  const has = (get: (r: UiRun) => unknown) => runs.some((r) => {
    const v = get(r);
    return v !== null && v !== undefined && v !== "";
  });
  const chosen = new Set(saved.chosen ?? [
    "state", "created", "runtime", "tags",
    ...(has((r) => r.node.group) ? ["group"] : []),
    ...(has((r) => r.node.jobType) ? ["jobType"] : []),
    ...(has((r) => r.node.user?.username) ? ["user"] : []),
    ...configKeys.slice(0, MAX_COLUMNS).map((k) => `config:${k}`),
    ...summaryKeys.filter((k) => metricKeys.includes(k)).slice(0, MAX_COLUMNS)
      .map((k) => `summary:${k}`)]);
  const tableColumns = () => columns(entity, project,
    configKeys.filter((k) => chosen.has(`config:${k}`)).sort(),
    summaryKeys.filter((k) => chosen.has(`summary:${k}`)).sort())
    .filter((c) => c.id === "name" || c.id.includes(":") || chosen.has(c.id));
  let byPath = new Map(runs.map((r) => [r.path, r]));

  const panels = metricKeys.map((k) => new ChartPanel(k));
  const note = h("p", { class: "muted chart-note" });
  const charts = chartSections(panels);
  let xKey = "_step";
  let grouping: Grouping | null = null;
  let pending = 0;
  const redraw = (selected: Set<string>) => {
    window.clearTimeout(pending);
    pending = window.setTimeout(() => void draw(selected), 150);
  };
  const chartRunsOf = (selected: Set<string>): ChartRun[] => [...selected].map(
    (p) => byPath.get(p)).filter((r): r is UiRun => r !== undefined).map((r) => ({
    path: r.path, label: r.label, color: runColor(r.path) }));
  const draw = async (selected: Set<string>, live = false) => {
    const all = chartRunsOf(selected);
    const chosenRuns = all.slice(0, MAX_CHART_RUNS);
    note.textContent = all.length > chosenRuns.length
      ? `Charts show the first ${chosenRuns.length} of ${all.length} selected runs.` : "";
    for (const p of panels) p.xKey = xKey;
    if (!chosenRuns.length) {
      stopDrawing();
      panels.forEach((p) => p.draw({ x: "_step", start: 0, bucketWidth: 1, buckets: 0,
        runs: [] }, []));
      return;
    }
    const x = xKey;
    // Grouped lines aggregate counts and step ranges too; plain charts need min, max, last.
    const fields = grouping ? undefined : CHART_FIELDS;
    const fetchSeries = (keys: string[], buckets: number, range?: StepRange) => series(
      chosenRuns.map((r) => r.path), x === "_step" ? keys : [...keys, x], buckets, range,
      fields);
    if (grouping) {
      // One aggregate line (mean, with the groups' whole min-max band) per group of the
      // selected runs.
      const by = grouping;
      const groupOf = new Map(chosenRuns.map((r) => [r.path,
        groupName(by.get(byPath.get(r.path)!))]));
      const sizes = new Map<string, number>();
      for (const g of groupOf.values()) sizes.set(g, (sizes.get(g) ?? 0) + 1);
      const lines = groupRuns([...sizes].sort((a, b) => a[0].localeCompare(b[0]))
        .map(([group, runs]) => ({ group, runs })), runColor);
      await drawPanels(panels, lines, async (keys, buckets, range) =>
        aggregate(await fetchSeries(keys, buckets, range), groupOf), live);
      return;
    }
    await drawPanels(panels, chosenRuns, fetchSeries, live);
  };
  const table = new RunsTable(runs, tableColumns(),
    runs.slice(0, FIRST_SELECTED).map((r) => r.path), redraw, saved.widths);
  table.onResize = (widths) => store.setWidths(widths);

  const count = h("span", { class: "run-count" }, String(runs.length));
  const quick = h("input", { type: "search", class: "runs-filter",
    placeholder: "Filter runs by name, id, group or tag", "aria-label": "filter runs" });
  quick.addEventListener("input", () => table.filter(quick.value));
  const fields = ["name", "displayName", "state", "group", "jobType", "tags", "username",
    "createdAt", "duration", ...configKeys.map((k) => `config.${k}`),
    ...summaryKeys.map((k) => `summary_metrics.${k}`)];
  const filterError = h("p", { class: "error filter-error" });
  const filters = filterBar(fields, (conditions) => void (async () => {
    filterError.textContent = "";
    try {
      const found = await loadRuns(entity, project, MAX_RUNS, mongoFilter(conditions));
      runs = found ?? [];
    } catch (err) {
      filterError.textContent = err instanceof Error ? err.message : String(err);
      return;
    }
    byPath = new Map(runs.map((r) => [r.path, r]));
    count.textContent = String(runs.length);
    table.setRuns(runs);
    redraw(table.selected);
  })());
  const groupings: Grouping[] = [
    { id: "group", get: (r) => r.node.group }, { id: "jobType", get: (r) => r.node.jobType },
    ...configKeys.map((k): Grouping => ({ id: `config.${k}`, get: (r) => r.config[k] }))];
  const groupBy = h("select", { class: "group-by", "aria-label": "group runs by" },
    h("option", { value: "" }, "no grouping"),
    groupings.map((g) => h("option", { value: g.id }, `group by ${g.id}`)));
  groupBy.addEventListener("change", () => {
    grouping = groupings.find((g) => g.id === groupBy.value) ?? null;
    table.setGrouping(grouping);
    void draw(table.selected);
  });
  const chooser = columnChooser(configKeys, summaryKeys, chosen, () => {
    store.setChosen(chosen);
    table.setColumns(tableColumns());
  });

  const compareBox = h("section", { class: "compare-box", hidden: true });
  const compare = h("button", { type: "button", class: "pager compare-button",
    onclick: () => {
      const picked = table.ordered().filter((r) => table.selected.has(r.path));
      compareBox.hidden = false;
      showCompare(compareBox, picked, entity, project);
      compareBox.scrollIntoView();
    } }, "Compare selected");
  const xSelect = h("select", { class: "x-axis", "aria-label": "x axis" },
    [...X_AXES, ...metricKeys].map((x) => h("option", { value: x }, `x: ${x}`)));
  xSelect.addEventListener("change", () => {
    xKey = xSelect.value;
    void draw(table.selected);
  });
  const smoothLabel = h("span", { class: "muted smooth-value" }, "0");
  const smooth = h("input", { type: "range", min: 0, max: 0.99, step: 0.01, value: 0,
    class: "smoothing", "aria-label": "smoothing" });
  smooth.addEventListener("input", () => {
    smoothLabel.textContent = smooth.value;
    for (const p of panels) { p.smoothing = Number(smooth.value); p.redraw(); }
  });

  frame(crumbs, sweepList(entity, project), h("div", { class: "workspace" },
    h("section", { class: "runs" },
      h("h2", null, "Runs (", count, ")"), filters, filterError,
      h("div", { class: "table-tools" }, quick, groupBy, chooser, compare), table.el,
      compareBox),
    h("section", { class: "charts-box" },
      h("div", { class: "chart-tools" }, xSelect,
        h("label", { class: "inline" }, "smoothing ", smooth, smoothLabel)), note,
      metricKeys.length ? charts : h("p", { class: "muted" }, "No numeric metrics logged."))));
  await draw(table.selected);
  // Live: while runs that were running at load are selected, their new points join the
  // charts (the runs' states refresh on reload).
  repeat(async () => {
    const live = new Set([...table.selected].slice(0, MAX_CHART_RUNS)
      .filter((p) => byPath.get(p)?.node.state === "running"));
    if (!live.size) return true;
    if (grouping) {  // group lines aggregate every run: fetched whole
      await draw(table.selected, true);
      return true;
    }
    // Only the running runs' steps after those drawn, appended (no full refetch); a panel
    // that cannot append (its axis doubled) is drawn again whole.
    const chartRuns = chartRunsOf(table.selected).slice(0, MAX_CHART_RUNS);
    const fields = CHART_FIELDS;
    const appended = await pollPanels(panels, chartRuns, live, (keys, buckets, after) =>
      series([...live], keys, buckets, undefined, fields, after));
    if (!appended) await draw(table.selected);
    return true;
  });
}
