// /<entity>/<project>/sweeps/<id>: a sweep's state, method, metric and config; its runs
// (parameters and the metric, best first, the best one highlighted); the metric over runs;
// and a parallel-coordinates plot of the parameters against the metric. While the sweep is
// live (pending or running) the page redraws when its runs or state change.
import { repeat } from "../chart";
import { h, path } from "../dom";
import { dateTime, number, value } from "../format";
import { type Crumb, frame } from "../layout";
import type { UiRun } from "../runs";
import { byMetric, loadSweep, metricValue, paramValue, sweepTitle, type UiSweep }
  from "../sweep/data";
import { metricChart } from "../sweep/metric_chart";
import { parCoords, parData } from "../sweep/parcoords";

function runsTable(sweep: UiSweep, entity: string, project: string, best: UiRun | null):
    HTMLElement {
  const metric = sweep.metric;
  return h("table", { class: "grid sweep-runs" },
    h("thead", null, h("tr", null, h("th", null, "Run"), h("th", null, "State"),
      sweep.params.map((p) => h("th", { "data-param": p }, p)),
      metric ? h("th", { class: "metric" }, metric) : null)),
    h("tbody", null, byMetric(sweep).map((run) => h("tr", {
      "data-run": run.node.name, class: run === best ? "best" : null },
    h("td", null, h("a", { href: path(entity, project, "runs", run.node.name) }, run.label)),
    h("td", null, h("span", { class: `state ${run.node.state ?? ""}` }, run.node.state ?? "")),
    sweep.params.map((p) => h("td", { "data-param": p }, value(paramValue(run.config, p)))),
    metric ? h("td", { class: "metric" }, value(metricValue(run, metric))) : null))));
}

export async function sweepPage(entity: string, project: string, name: string):
    Promise<void> {
  const crumbs = [{ text: entity }, { text: project, href: path(entity, project) },
    { text: "sweeps" }, { text: name, href: path(entity, project, "sweeps", name) }];
  const sweep = await loadSweep(entity, project, name);
  if (sweep === null) {
    frame(crumbs, h("p", { class: "error" }, `No sweep ${entity}/${project}/${name}.`));
    return;
  }
  render(sweep, entity, project, crumbs);
  let shown = fingerprint(sweep);
  repeat(async () => {
    const now = await loadSweep(entity, project, name);
    if (now === null) return false;
    if (fingerprint(now) !== shown) {
      shown = fingerprint(now);
      render(now, entity, project, crumbs);
    }
    return LIVE.has(now.node.state);
  });
}

/** Sweep states in which runs still come. */
const LIVE = new Set(["PENDING", "RUNNING"]);

/** What the page shows that a poll may change. */
function fingerprint(sweep: UiSweep): string {
  return JSON.stringify([sweep.node.state, sweep.node.bestLoss, sweep.runs.map((r) =>
    [r.node.name, r.node.state, metricValue(r, sweep.metric)])]);
}

function render(sweep: UiSweep, entity: string, project: string, crumbs: Crumb[]): void {
  const n = sweep.node;
  const ranked = byMetric(sweep);
  const best = ranked.length && metricValue(ranked[0], sweep.metric) !== null
    ? ranked[0] : null;
  const facts: [string, ReturnType<typeof h> | string][] = [
    ["State", h("span", { class: `state ${n.state}` }, n.state)],
    ["Method", n.method],
    ["Metric", sweep.metric ? `${sweep.metric} (${sweep.minimize ? "minimize" : "maximize"})`
      : "none"],
    ["Runs", n.runCountExpected ? `${n.runCount} of ${n.runCountExpected}` : String(n.runCount)],
    ["Best", n.bestLoss === null ? "" : number(n.bestLoss)],
    ["Created", dateTime(n.createdAt)],
  ];
  const values = sweep.runs.map((r) => metricValue(r, sweep.metric));
  const axes = [...sweep.params, ...(sweep.metric ? [sweep.metric] : [])];
  const rows = sweep.runs.map((r) => [...sweep.params.map((p) => paramValue(r.config, p)),
    ...(sweep.metric ? [metricValue(r, sweep.metric)] : [])]);
  frame(crumbs,
    h("h1", { class: "sweep-name" }, sweepTitle(n)),
    h("div", { class: "overview" },
      h("section", null, h("h2", null, "Sweep"),
        h("dl", { class: "facts" }, facts.filter(([, v]) => v !== "").map(([k, v]) => [
          h("dt", null, k), h("dd", { "data-fact": k }, v)])),
        h("p", { class: "best-run" }, best
          ? ["Best run: ", h("a", { href: path(entity, project, "runs", best.node.name) },
            best.label), ` (${sweep.metric} = ${value(metricValue(best, sweep.metric))})`]
          : h("span", { class: "muted" }, "No run has reported the metric yet."))),
      h("section", null, h("h2", null, "Config"),
        h("pre", { class: "sweep-config" }, n.config))),
    h("section", null, h("h2", null, `Runs (${sweep.runs.length})`),
      sweep.runs.length ? runsTable(sweep, entity, project, best)
        : h("p", { class: "muted" }, "No runs yet.")),
    sweep.metric && values.some((v) => v !== null)
      ? h("section", null, h("h2", null, `${sweep.metric} over runs`),
        metricChart(sweep.metric, values, sweep.minimize))
      : null,
    axes.length && sweep.runs.length
      ? h("section", null, h("h2", null, "Parameters and the metric"),
        parCoords(parData(axes, sweep.runs.map((r) => r.node.name), rows, sweep.minimize),
          best?.node.name ?? null))
      : null);
}
