// The compare view: config and summary of the selected runs side by side, by default only
// the keys whose values differ.
import { h, path, replace } from "../dom";
import { value } from "../format";
import type { UiRun } from "../runs";

/** The most runs compared side by side. */
export const MAX_COMPARED = 50;

/** Rows of the comparison: `section.key` and each run's value as text. */
export function compareRows(runs: UiRun[], onlyDiffering: boolean):
    { key: string; values: string[]; differs: boolean }[] {
  const rows: { key: string; values: string[]; differs: boolean }[] = [];
  for (const [section, get] of [["config", (r: UiRun) => r.config],
    ["summary", (r: UiRun) => r.summary]] as const) {
    const keys = new Set<string>();
    for (const r of runs) {
      for (const k of Object.keys(get(r))) if (!k.startsWith("_")) keys.add(k);
    }
    for (const k of [...keys].sort((a, b) => a.localeCompare(b))) {
      const values = runs.map((r) => (k in get(r) ? value(get(r)[k]) : ""));
      const differs = new Set(values).size > 1;
      if (differs || !onlyDiffering) rows.push({ key: `${section}.${k}`, values, differs });
    }
  }
  return rows;
}

/** Fill `box` with the comparison of `runs` (the first MAX_COMPARED). */
export function showCompare(box: HTMLElement, runs: UiRun[], entity: string,
    project: string): void {
  const shown = runs.slice(0, MAX_COMPARED);
  const all = h("input", { type: "checkbox", class: "compare-all" });
  const table = h("div", { class: "compare-table" });
  const render = () => {
    const rows = compareRows(shown, !all.checked);
    replace(table, rows.length ? h("table", { class: "grid compare" },
      h("thead", null, h("tr", null, h("th", null, "Key"), shown.map((r) =>
        h("th", { "data-run": r.node.name },
          h("a", { href: path(entity, project, "runs", r.node.name) }, r.label))))),
      h("tbody", null, rows.map((row) => h("tr", { "data-key": row.key,
        class: row.differs ? "differs" : null },
      h("th", null, row.key), row.values.map((v) => h("td", null, v))))))
      : h("p", { class: "muted" }, shown.length < 2 ? "Select two or more runs to compare."
        : "No differences in config or summary."));
  };
  all.addEventListener("change", render);
  render();
  replace(box, h("div", { class: "compare-head" },
    h("h2", null, `Compare ${shown.length} runs`),
    h("label", { class: "check" }, all, "show keys with equal values too"),
    runs.length > shown.length ? h("span", { class: "muted" },
      `(the first ${MAX_COMPARED} of ${runs.length} selected)`) : null), table);
}
