// Artifacts: a run's logged and used artifacts (run page tab), and the artifact page
// (/<entity>/<project>/artifacts/<type>/<name>/<version>, the URL the SDK's
// `artifact.url` names): versions, aliases, metadata, files with download, and lineage
// (the run that logged it and the runs that used it).
import { graphql, sitePath } from "../api";
import { type Child, h, path, replace } from "../dom";
import { bytes, dateTime, value } from "../format";
import { frame } from "../layout";
import { type GraphRun, lineageGraph } from "./lineage";
import { treeTable } from "./tree";

export interface ArtifactNode {
  id: string;
  digest: string;
  versionIndex: number | null;
  description: string | null;
  createdAt: string;
  size: number;
  fileCount: number;
  metadata?: string | null;
  state?: string;
  aliases: { alias: string }[] | null;
  artifactType: { name: string };
  artifactSequence: { name: string; project: { name: string; entityName: string } | null };
}

const ARTIFACT_FIELDS = `id digest versionIndex description createdAt size fileCount
  aliases { alias } artifactType { name }
  artifactSequence { name project { name entityName } }`;

const RUN_ARTIFACTS = `query UiRunArtifacts($project: String!, $entity: String!,
    $name: String!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) {
      outputArtifacts(first: 500) { edges { node { ${ARTIFACT_FIELDS} } } }
      inputArtifacts(first: 500) { edges { node { ${ARTIFACT_FIELDS} } } }
    }
  }
}`;

/** The artifact page's path of `a` (its own project's, which may not be the run's). */
export function artifactPath(a: ArtifactNode, entity: string, project: string): string {
  const p = a.artifactSequence.project;
  return path(p?.entityName ?? entity, p?.name ?? project, "artifacts", a.artifactType.name,
    a.artifactSequence.name, `v${a.versionIndex ?? 0}`);
}

function artifactTable(list: ArtifactNode[], entity: string, project: string): Child {
  if (!list.length) return h("p", { class: "muted" }, "none");
  return h("table", { class: "grid artifacts" },
    h("thead", null, h("tr", null, ["Name", "Type", "Aliases", "Files", "Size", "Created"]
      .map((t) => h("th", null, t)))),
    h("tbody", null, list.map((a) => h("tr", { "data-artifact":
        `${a.artifactSequence.name}:v${a.versionIndex ?? 0}` },
      h("td", null, h("a", { href: artifactPath(a, entity, project) },
        `${a.artifactSequence.name}:v${a.versionIndex ?? 0}`)),
      h("td", null, a.artifactType.name),
      h("td", null, (a.aliases ?? []).map((x) => h("span", { class: "tag" }, x.alias))),
      h("td", { class: "num" }, a.fileCount),
      h("td", { class: "num" }, bytes(a.size)),
      h("td", null, dateTime(a.createdAt))))));
}

/** Fill `box` with the run's logged (output) and used (input) artifacts. */
export async function artifactsTab(box: HTMLElement, entity: string, project: string,
    name: string): Promise<void> {
  type Edges = { edges: { node: ArtifactNode }[] } | null;
  const data = await graphql<{ project: { run: { outputArtifacts: Edges;
    inputArtifacts: Edges } | null } | null }>(RUN_ARTIFACTS, { entity, project, name });
  const run = data.project?.run;
  const out = (run?.outputArtifacts?.edges ?? []).map((e) => e.node);
  const used = (run?.inputArtifacts?.edges ?? []).map((e) => e.node);
  replace(box,
    h("section", { class: "logged-artifacts" }, h("h2", null, `Logged (${out.length})`),
      artifactTable(out, entity, project)),
    h("section", { class: "used-artifacts" }, h("h2", null, `Used (${used.length})`),
      artifactTable(used, entity, project)));
}

interface LineageRun {
  name: string;
  displayName: string | null;
  project: { name: string; entityName: string } | null;
}

const ARTIFACT = `query UiArtifact($project: String!, $entity: String!, $collection: String!,
    $alias: String!) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $collection) {
      name
      artifactMembership(aliasName: $alias) {
        versionIndex
        artifact {
          ${ARTIFACT_FIELDS} metadata state
          createdBy { ... on Run { name displayName project { name entityName } } }
          usedBy { edges { node { name displayName project { name entityName } } } }
        }
        files(first: 1000) {
          edges { node { name sizeBytes digest directUrl } }
          pageInfo { hasNextPage }
          totalCount
        }
      }
      artifacts(first: 100) { edges { node { ${ARTIFACT_FIELDS} } } }
    }
  }
}`;

interface ArtifactPageData {
  project: { artifactCollection: {
    name: string;
    artifactMembership: {
      versionIndex: number | null;
      artifact: ArtifactNode & { createdBy: LineageRun | null;
        usedBy: { edges: { node: LineageRun }[] } };
      files: { edges: { node: { name: string; sizeBytes: number; digest: string | null;
        directUrl: string } }[]; pageInfo: { hasNextPage: boolean }; totalCount: number };
    } | null;
    artifacts: { edges: { node: ArtifactNode }[] };
  } | null } | null;
}

function graphRun(run: LineageRun, entity: string, project: string): GraphRun {
  return { name: run.name, label: run.displayName || run.name,
    entity: run.project?.entityName ?? entity, project: run.project?.name ?? project };
}

function runLink(run: LineageRun, entity: string, project: string): Child {
  const e = run.project?.entityName ?? entity, p = run.project?.name ?? project;
  return h("a", { href: path(e, p, "runs", run.name), "data-run": run.name },
    run.displayName || run.name);
}

/** /<entity>/<project>/artifacts/<type>/<name>/<version>: one artifact version. */
export async function artifactPage(entity: string, project: string, type: string,
    name: string, version: string): Promise<void> {
  const crumbs = [{ text: entity }, { text: project, href: path(entity, project) },
    { text: "artifacts" }, { text: type }, { text: `${name}:${version}` }];
  const data = await graphql<ArtifactPageData>(ARTIFACT, { entity, project,
    collection: name, alias: version });
  const collection = data.project?.artifactCollection;
  const membership = collection?.artifactMembership;
  if (!collection || !membership) {
    frame(crumbs, h("p", { class: "error" },
      `No artifact ${entity}/${project}/${name}:${version}.`));
    return;
  }
  const a = membership.artifact;
  let metadata: Record<string, unknown> = {};
  try {
    metadata = a.metadata ? JSON.parse(a.metadata) as Record<string, unknown> : {};
  } catch { /* shown as none */ }
  const versions = collection.artifacts.edges.map((e) => e.node);
  const files = membership.files;
  const used = a.usedBy.edges.map((e) => e.node);
  frame(crumbs,
    h("h1", { class: "artifact-name" }, `${name}:v${a.versionIndex ?? 0}`),
    h("div", { class: "overview" },
      h("section", null, h("h2", null, "Version"),
        h("dl", { class: "facts" },
          h("dt", null, "Type"), h("dd", { "data-fact": "Type" }, a.artifactType.name),
          h("dt", null, "Aliases"), h("dd", { "data-fact": "Aliases" },
            (a.aliases ?? []).map((x) => h("span", { class: "tag" }, x.alias))),
          h("dt", null, "Digest"), h("dd", { "data-fact": "Digest" }, a.digest),
          h("dt", null, "Size"), h("dd", { "data-fact": "Size" }, bytes(a.size)),
          h("dt", null, "Files"), h("dd", { "data-fact": "Files" }, a.fileCount),
          h("dt", null, "Created"), h("dd", null, dateTime(a.createdAt)),
          a.description ? [h("dt", null, "Description"), h("dd", null, a.description)]
            : null)),
      h("section", { class: "lineage" }, h("h2", null, "Lineage"),
        h("dl", { class: "facts" },
          h("dt", null, "Logged by"), h("dd", { "data-fact": "Logged by" },
            a.createdBy ? runLink(a.createdBy, entity, project) : "—"),
          h("dt", null, "Used by"), h("dd", { "data-fact": "Used by" }, used.length
            ? used.map((r, i) => [i ? ", " : "", runLink(r, entity, project)]) : "—"))),
      h("section", null, h("h2", null, "Metadata"), Object.keys(metadata).length
        ? h("table", { class: "grid kv metadata" }, h("tbody", null,
          Object.keys(metadata).sort().map((k) => h("tr", { "data-key": k },
            h("th", null, k), h("td", null, value(metadata[k]))))))
        : h("p", { class: "muted" }, "none"))),
    h("section", { class: "lineage-box" }, h("h2", null, "Lineage graph"),
      lineageGraph(`${name}:v${a.versionIndex ?? 0}`, a.artifactType.name,
        a.createdBy ? graphRun(a.createdBy, entity, project) : null,
        used.map((r) => graphRun(r, entity, project)))),
    h("section", { class: "artifact-files" },
      h("h2", null, `Files (${files.totalCount})`),
      treeTable(files.edges.map((e) => e.node), ["Digest"], (f, base) => [
        f.directUrl ? h("a", { href: sitePath(f.directUrl), download: base, title: f.name },
          base) : base,
        h("span", { class: "muted" }, f.digest ?? "")]),
      files.pageInfo.hasNextPage ? h("p", { class: "muted" },
        `The first ${files.edges.length} files are listed.`) : null),
    h("section", { class: "versions" }, h("h2", null, `Versions (${versions.length})`),
      artifactTable(versions, entity, project)));
}
