// The sweep's metric over its runs: each run's value by creation order (points) and the
// best value so far (a step line), drawn with uPlot and registered in window.tracklet.charts.
import uPlot from "uplot";
import { charts } from "../chart";
import { h } from "../dom";

/** Chart key in window.tracklet.charts. */
export const METRIC_CHART = "sweep:metric";

/** Running best of `values` (nulls keep the best so far; null before the first value). */
export function runningBest(values: (number | null)[], minimize: boolean): (number | null)[] {
  let best: number | null = null;
  return values.map((v) => {
    if (v !== null && (best === null || (minimize ? v < best : v > best))) best = v;
    return best;
  });
}

export function metricChart(metric: string, values: (number | null)[], minimize: boolean):
    HTMLElement {
  const box = h("div", { class: "plot sweep-metric" });
  const x = values.map((_, i) => i + 1);
  const data: uPlot.AlignedData = [x, values, runningBest(values, minimize)];
  const make = () => {
    const width = Math.max(320, box.clientWidth || 800);
    const plot = new uPlot({
      width, height: 260,
      scales: { x: { time: false } },
      // Whole runs only on x (uPlot would tick 1.2, 1.4, ...).
      axes: [{ label: "run (creation order)", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500,
        1000, 2000, 5000] }, { label: metric }],
      series: [
        { label: "run" },
        { label: metric, stroke: "#2f6feb", width: 0, points: { show: true, size: 7,
          fill: "#2f6feb" } },
        { label: minimize ? "lowest so far" : "highest so far", stroke: "#e8590c", width: 2,
          paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } },
      ],
    }, data, box);
    charts.get(METRIC_CHART)?.destroy();
    charts.set(METRIC_CHART, plot);
  };
  requestAnimationFrame(make);
  return box;
}
