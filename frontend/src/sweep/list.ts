// The project's sweeps on the workspace page: a short table linking to each sweep page,
// filled after the page is drawn (absent when the project has none).
import { h, path, replace } from "../dom";
import { dateTime, number } from "../format";
import { loadSweeps, sweepTitle } from "./data";

export function sweepList(entity: string, project: string): HTMLElement {
  const box = h("section", { class: "sweeps", hidden: true });
  void loadSweeps(entity, project).then((sweeps) => {
    if (!sweeps.length) return;
    replace(box, h("details", { open: true }, h("summary", null, h("h2", null,
      `Sweeps (${sweeps.length})`)),
    h("table", { class: "grid sweep-list" },
      h("thead", null, h("tr", null, ["Sweep", "State", "Method", "Runs", "Best", "Created"]
        .map((t) => h("th", null, t)))),
      h("tbody", null, sweeps.map((s) => h("tr", { "data-sweep": s.name },
        h("td", null, h("a", { href: path(entity, project, "sweeps", s.name) },
          sweepTitle(s))),
        h("td", null, h("span", { class: `state ${s.state}` }, s.state)),
        h("td", null, s.method), h("td", null, String(s.runCount)),
        h("td", null, s.bestLoss === null ? "" : number(s.bestLoss)),
        h("td", null, dateTime(s.createdAt))))))));
    box.hidden = false;
  }, (err: unknown) => {
    replace(box, h("p", { class: "error" }, err instanceof Error ? err.message : String(err)));
    box.hidden = false;
  });
  return box;
}
