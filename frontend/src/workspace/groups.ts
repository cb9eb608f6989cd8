// Aggregate chart lines for grouped runs: per group and bucket, the mean of the runs' last
// values as the line and the lowest min to the highest max as the band, so grouping never
// hides a spike of any one run.
import type { Series, SeriesAnswer } from "../api";
import type { ChartRun } from "../chart";

/** The answer with one "run" per group (`group:<name>`), aggregated from its runs. */
export function aggregate(answer: SeriesAnswer, groupOf: Map<string, string>): SeriesAnswer {
  const byGroup = new Map<string, Map<string, Map<number, { sum: number; n: number;
    min: number; max: number; count: number; first: number; last: number }>>>();
  for (const { run, series } of answer.runs) {
    const group = groupOf.get(run);
    if (group === undefined) continue;
    const keys = byGroup.get(group) ?? new Map();
    byGroup.set(group, keys);
    for (const [key, s] of Object.entries(series)) {
      const buckets = keys.get(key) ?? new Map();
      keys.set(key, buckets);
      s.bucket.forEach((b, i) => {
        const last = s.last[i], lo = s.min[i], hi = s.max[i];
        if (typeof last !== "number" || typeof lo !== "number" || typeof hi !== "number")
          return;
        const acc = buckets.get(b);
        if (!acc) {
          buckets.set(b, { sum: last, n: 1, min: lo, max: hi, count: s.count[i],
            first: s.firstStep[i], last: s.lastStep[i] });
        } else {
          acc.sum += last; acc.n += 1; acc.count += s.count[i];
          acc.min = Math.min(acc.min, lo); acc.max = Math.max(acc.max, hi);
          acc.first = Math.min(acc.first, s.firstStep[i]);
          acc.last = Math.max(acc.last, s.lastStep[i]);
        }
      });
    }
  }
  const runs = [...byGroup].map(([group, keys]) => {
    const series: Record<string, Series> = {};
    for (const [key, buckets] of keys) {
      const order = [...buckets.keys()].sort((a, b) => a - b);
      const s: Series = { bucket: order, count: [], firstStep: [], lastStep: [], min: [],
        max: [], last: [] };
      for (const b of order) {
        const acc = buckets.get(b)!;
        s.count.push(acc.count); s.firstStep.push(acc.first); s.lastStep.push(acc.last);
        s.min.push(acc.min); s.max.push(acc.max); s.last.push(acc.sum / acc.n);
      }
      series[key] = s;
    }
    return { run: groupPath(group), series };
  });
  return { ...answer, runs };
}

/** The chart "run" path of a group. */
export function groupPath(group: string): string {
  return `group:${group}`;
}

/** The chart runs of the groups, in order, each labelled with its size. */
export function groupRuns(groups: { group: string; runs: number }[], color: (p: string) =>
    string): ChartRun[] {
  return groups.map(({ group, runs }) => ({ path: groupPath(group),
    label: `${group} (${runs})`, color: color(groupPath(group)) }));
}
