// The run's system-metrics tab: one chart per metric the SDK sampled (CPU, memory, disk,
// network, GPU...), over the run's time, from the same rows `run.history(stream="system")`
// reads (GraphQL `events`).
import { graphql, type SeriesAnswer } from "../api";
import { ChartPanel, chartSections, runColor } from "../chart";
import { h, replace } from "../dom";

const EVENTS = `query UiRunEvents($project: String!, $entity: String!, $name: String!,
    $samples: Int) {
  project(name: $project, entityName: $entity) { run(name: $name) { events(samples: $samples) } }
}`;

/** How many samples to ask for (the server thins longer runs to this many). */
const SAMPLES = 2000;

/** The events rows as a series answer per key, x = `_runtime` (seconds). */
export function systemSeries(run: string, rows: Record<string, unknown>[]):
    Map<string, SeriesAnswer> {
  const out = new Map<string, SeriesAnswer>();
  const first = rows.find((r) => typeof r._timestamp === "number")?._timestamp as
    number | undefined;
  for (const row of rows) {
    const x = typeof row._runtime === "number" ? row._runtime
      : typeof row._timestamp === "number" && first !== undefined ? row._timestamp - first
        : null;
    if (x === null) continue;
    for (const [key, v] of Object.entries(row)) {
      if (key.startsWith("_") || typeof v !== "number") continue;
      let answer = out.get(key);
      if (!answer) {
        answer = { x: "_runtime", start: 0, bucketWidth: 1, buckets: 0, runs: [{ run,
          series: { [key]: { bucket: [], count: [], firstStep: [], lastStep: [], min: [],
            max: [], last: [] } } }] };
        out.set(key, answer);
      }
      const s = answer.runs[0].series[key];
      s.bucket.push(x);
      s.count.push(1);
      s.firstStep.push(x);
      s.lastStep.push(x);
      s.min.push(v);
      s.max.push(v);
      s.last.push(v);
      answer.buckets++;
    }
  }
  return out;
}

/** Fill `box` with the system-metric charts of the run. */
export async function systemTab(box: HTMLElement, entity: string, project: string,
    name: string, path: string, label: string): Promise<void> {
  const data = await graphql<{ project: { run: { events: string[] } | null } | null }>(
    EVENTS, { entity, project, name, samples: SAMPLES });
  const rows = (data.project?.run?.events ?? []).map((t) => JSON.parse(t) as
    Record<string, unknown>);
  const series = systemSeries(path, rows);
  if (!series.size) {
    replace(box, h("p", { class: "muted" }, "No system metrics."));
    return;
  }
  const keys = [...series.keys()].sort((a, b) => a.localeCompare(b));
  const panels = keys.map((k) => new ChartPanel(k, "system"));
  replace(box, h("p", { class: "muted" }, `${rows.length} samples`), chartSections(panels));
  const chartRun = { path, label, color: runColor(path) };
  for (const p of panels) p.draw(series.get(p.key)!, [chartRun]);
}
