// Runs as the GraphQL API returns them (the SDK's Run fields), decoded once for the pages.
import { graphql } from "./api";
import { parseDate } from "./format";

export interface RunNode {
  id: string;
  name: string;
  displayName: string | null;
  state: string | null;
  createdAt: string;
  heartbeatAt: string | null;
  tags: string[];
  group: string | null;
  jobType: string | null;
  notes?: string | null;
  commit?: string | null;
  config: string | null;
  summaryMetrics: string | null;
  user?: { username: string | null } | null;
  historyKeys?: { keys?: Record<string, { typeCounts?: { type: string }[] }> } | null;
}

export interface UiRun {
  node: RunNode;
  /** entity/project/run, as /api/v1/runs/series takes it. */
  path: string;
  label: string;
  config: Record<string, unknown>;
  summary: Record<string, unknown>;
  /** Seconds from creation to the last heartbeat (or the summary's `_runtime`). */
  runtime: number | null;
  created: number;
}

function parseJson(text: string | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value)
      ? value as Record<string, unknown> : {};
  } catch {
    return {};
  }
}

/** The config as the user logged it: `{"lr": {"value": 0.1}}` → `{"lr": 0.1}`, no `_wandb`. */
export function unwrapConfig(text: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parseJson(text))) {
    if (k === "_wandb") continue;
    out[k] = v && typeof v === "object" && "value" in v ? (v as { value: unknown }).value : v;
  }
  return out;
}

export function decodeRun(entity: string, project: string, node: RunNode): UiRun {
  const summary = parseJson(node.summaryMetrics);
  const created = parseDate(node.createdAt).getTime() / 1000;
  const beat = node.heartbeatAt ? parseDate(node.heartbeatAt).getTime() / 1000 : NaN;
  const runtime = typeof summary._runtime === "number" ? summary._runtime
    : Number.isFinite(beat) ? beat - created : null;
  return {
    node, path: `${entity}/${project}/${node.name}`, label: node.displayName || node.name,
    config: unwrapConfig(node.config), summary, runtime, created,
  };
}

const RUN_FIELDS = `id name displayName state createdAt heartbeatAt tags group jobType
  config summaryMetrics user { username }`;

const RUNS = `query UiRuns($project: String!, $entity: String!, $cursor: String, $perPage: Int,
    $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    runCount
    runs(after: $cursor, first: $perPage, filters: $filters) {
      edges { node { ${RUN_FIELDS} } }
      pageInfo { endCursor hasNextPage }
    }
  }
}`;

/** Up to `limit` runs of a project, newest first; null when the project does not exist.
 * `filters` is an `api.runs` filter (MongoDB style), applied by the server. */
export async function loadRuns(entity: string, project: string, limit = 2000,
    filters: Record<string, unknown> | null = null): Promise<UiRun[] | null> {
  const runs: UiRun[] = [];
  let cursor: string | null = null;
  for (;;) {
    type Page = { project: { runs: { edges: { node: RunNode }[];
      pageInfo: { endCursor: string | null; hasNextPage: boolean } } } | null };
    const data: Page = await graphql<Page>(RUNS, { entity, project, cursor, perPage: 500,
      filters: filters ? JSON.stringify(filters) : null });
    if (!data.project) return null;
    for (const e of data.project.runs.edges) runs.push(decodeRun(entity, project, e.node));
    const info = data.project.runs.pageInfo;
    if (!info.hasNextPage || runs.length >= limit || !info.endCursor) break;
    cursor = info.endCursor;
  }
  runs.sort((a, b) => b.created - a.created);
  return runs;
}

const RUN = `query UiRun($project: String!, $entity: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) { ${RUN_FIELDS} notes commit historyKeys }
  }
}`;

/** One run with its history keys; null when it does not exist. */
export async function loadRun(entity: string, project: string, name: string):
    Promise<UiRun | null> {
  const data = await graphql<{ project: { run: RunNode | null } | null }>(
    RUN, { entity, project, name });
  const node = data.project?.run;
  return node ? decodeRun(entity, project, node) : null;
}

/** Keys logged with numbers in a run's history (from `historyKeys`). */
export function numericHistoryKeys(run: UiRun): string[] {
  const keys = run.node.historyKeys?.keys ?? {};
  return Object.entries(keys)
    .filter(([, info]) => (info.typeCounts ?? []).some((t) => t.type === "number"))
    .map(([k]) => k);
}

/** Keys whose summary value is a number, across `runs`. */
export function numericSummaryKeys(runs: UiRun[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    for (const [k, v] of Object.entries(run.summary)) if (typeof v === "number") keys.add(k);
  }
  return [...keys];
}
