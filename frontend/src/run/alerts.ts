// The run page's Alerts tab: what the run raised with run.alert (title, text, level, time)
// and each alert's delivery to the configured destinations.
import { graphql } from "../api";
import { h, replace } from "../dom";
import { dateTime } from "../format";

interface Delivery { destination: string; state: string; attempts: number;
  lastError: string | null; deliveredAt: string | null }
interface Alert { id: string; title: string; text: string; severity: string;
  createdAt: string; deliveries: Delivery[] }

export async function alertsTab(box: HTMLElement, entity: string, project: string,
    name: string): Promise<void> {
  const data = await graphql<{ project: { run: { alerts: Alert[] } | null } | null }>(
    `query UiAlerts($project: String!, $entity: String!, $name: String!) {
      project(name: $project, entityName: $entity) { run(name: $name) {
        alerts { id title text severity createdAt
          deliveries { destination state attempts lastError deliveredAt } } } }
    }`, { entity, project, name });
  const alerts = data.project?.run?.alerts ?? [];
  if (!alerts.length) {
    replace(box, h("p", { class: "muted" }, "This run raised no alerts."));
    return;
  }
  const delivery = (a: Alert) => a.deliveries.length
    ? a.deliveries.map((d) => h("div", { class: `delivery ${d.state}`,
      "data-destination": d.destination },
    `${d.destination}: ${d.state}`, d.attempts > 1 ? ` after ${d.attempts} attempts` : "",
    d.deliveredAt ? ` at ${dateTime(d.deliveredAt)}` : "",
    d.lastError && d.state !== "delivered" ? ` (${d.lastError})` : ""))
    : h("span", { class: "muted" }, "stored (no destination configured)");
  replace(box, h("table", { class: "grid alerts" },
    h("thead", null, h("tr", null, ["Time", "Level", "Title", "Text", "Delivery"].map((t) =>
      h("th", null, t)))),
    h("tbody", null, [...alerts].reverse().map((a) => h("tr", { "data-alert": a.id },
      h("td", { class: "time" }, dateTime(a.createdAt)),
      h("td", null, h("span", { class: `level ${a.severity}` }, a.severity)),
      h("td", { class: "title" }, a.title),
      h("td", { class: "text" }, a.text),
      h("td", { class: "delivery-status" }, delivery(a)))))));
}
