// /: the projects of the signed-in user's entity, with run counts and last activity.
import { graphql } from "../api";
import { h, path } from "../dom";
import { dateTime } from "../format";
import { frame } from "../layout";

interface ProjectNode {
  name: string;
  entityName: string;
  createdAt: string;
  updatedAt: string | number | null;
  runCount: number | null;
}

const QUERY = `query UiProjects {
  viewer { username entity }
  models(first: 1000) {
    edges { node { name entityName createdAt updatedAt runCount } }
  }
}`;

export async function projectsPage(): Promise<void> {
  const data = await graphql<{ models: { edges: { node: ProjectNode }[] } }>(QUERY);
  const projects = data.models.edges.map((e) => e.node);
  const stamp = (p: ProjectNode) => typeof p.updatedAt === "number" ? p.updatedAt
    : Date.parse(String(p.updatedAt ?? p.createdAt)) / 1000;
  projects.sort((a, b) => (stamp(b) || 0) - (stamp(a) || 0));
  const rows = projects.map((p) => h("tr", null,
    h("td", null, h("a", { href: path(p.entityName, p.name) }, p.name)),
    h("td", null, p.entityName),
    h("td", { class: "num" }, p.runCount ?? ""),
    h("td", null, dateTime(p.updatedAt ?? p.createdAt)),
    h("td", null, dateTime(p.createdAt))));
  frame([{ text: "Projects" }], h("h1", null, "Projects"),
    projects.length
      ? h("table", { class: "grid projects" },
        h("thead", null, h("tr", null, h("th", null, "Project"), h("th", null, "Entity"),
          h("th", null, "Runs"), h("th", null, "Last activity"), h("th", null, "Created"))),
        h("tbody", null, rows))
      : h("p", { class: "muted" }, "No projects yet: point wandb at this server ",
        h("code", null, `WANDB_BASE_URL=${location.origin}`), " and log a run."));
}
