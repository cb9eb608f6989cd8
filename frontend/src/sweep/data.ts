// A sweep as the GraphQL API returns it (the fields `api.sweep(path)` reads), decoded for
// the sweep page: its parameters, metric and goal, and its runs ordered by creation.
import { graphql } from "../api";
import { parseDate } from "../format";
import { decodeRun, type RunNode, type UiRun } from "../runs";

export interface SweepNode {
  id: string;
  name: string;
  displayName: string | null;
  state: string;
  method: string;
  config: string;
  configJson: string | null;
  createdAt: string;
  runCount: number;
  runCountExpected: number | null;
  bestLoss: number | null;
  runs: { edges: { node: RunNode }[] } | null;
}

export interface UiSweep {
  node: SweepNode;
  /** The config document (parsed by the server from the YAML/JSON text). */
  doc: Record<string, unknown>;
  metric: string | null;
  /** true when the metric is minimised (W&B's default goal). */
  minimize: boolean;
  /** Parameter names (nested parameters as dotted paths), in config order. */
  params: string[];
  /** The runs, oldest first. */
  runs: UiRun[];
}

const SWEEP = `query UiSweep($project: String!, $entity: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    sweep(sweepName: $name) {
      id name displayName state method config configJson createdAt runCount
      runCountExpected bestLoss
      runs { edges { node { id name displayName state createdAt heartbeatAt tags group
        jobType config summaryMetrics user { username } } } }
    }
  }
}`;

function record(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : {};
}

/** Parameter paths: a parameter with its own `parameters` is nested (W&B's nested
 * parameters), its leaves named `outer.inner`. */
export function paramPaths(params: Record<string, unknown>, prefix = ""): string[] {
  const out: string[] = [];
  for (const [k, spec] of Object.entries(params)) {
    const nested = record(spec).parameters;
    if (nested && typeof nested === "object") {
      out.push(...paramPaths(record(nested), `${prefix}${k}.`));
    } else {
      out.push(prefix + k);
    }
  }
  return out;
}

/** A run's value of parameter `path` (dotted for nested ones). */
export function paramValue(config: Record<string, unknown>, path: string): unknown {
  if (path in config) return config[path];
  let v: unknown = config;
  for (const part of path.split(".")) v = record(v)[part];
  return v;
}

/** The run's metric value (a number), or null. */
export function metricValue(run: UiRun, metric: string | null): number | null {
  if (!metric) return null;
  const v = paramValue(run.summary, metric);
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export async function loadSweep(entity: string, project: string, name: string):
    Promise<UiSweep | null> {
  const data = await graphql<{ project: { sweep: SweepNode | null } | null }>(SWEEP,
    { entity, project, name });
  const node = data.project?.sweep;
  if (!node) return null;
  let doc: Record<string, unknown> = {};
  try {
    doc = record(node.configJson ? JSON.parse(node.configJson) : {});
  } catch {
    /* shown as text only */
  }
  const metricDoc = record(doc.metric);
  const metric = typeof metricDoc.name === "string" ? metricDoc.name : null;
  const runs = (node.runs?.edges ?? []).map((e) => decodeRun(entity, project, e.node))
    .sort((a, b) => parseDate(a.node.createdAt).getTime() - parseDate(b.node.createdAt).getTime()
      || a.node.name.localeCompare(b.node.name));
  return { node, doc, metric, minimize: metricDoc.goal !== "maximize",
    params: paramPaths(record(doc.parameters)), runs };
}

/** Runs sorted by the metric per the goal (best first; runs without it last). */
export function byMetric(sweep: UiSweep): UiRun[] {
  const sign = sweep.minimize ? 1 : -1;
  return [...sweep.runs].sort((a, b) => {
    const va = metricValue(a, sweep.metric);
    const vb = metricValue(b, sweep.metric);
    if (va === null || vb === null) return va === null ? (vb === null ? 0 : 1) : -1;
    return sign * (va - vb);
  });
}

/** The name W&B shows for a sweep: its display name, else its config's `name`, else its
 * id. */
export function sweepTitle(node: { name: string; displayName: string | null;
    configJson: string | null }): string {
  if (node.displayName) return node.displayName;
  try {
    const named: unknown = record(JSON.parse(node.configJson ?? "{}")).name;
    if (typeof named === "string" && named) return named;
  } catch {
    /* no config name */
  }
  return node.name;
}

/** Sweeps of a project, newest first as the server lists them. */
export interface SweepSummary {
  name: string; displayName: string | null; configJson: string | null; state: string;
  method: string;
  runCount: number; bestLoss: number | null; createdAt: string;
}

export async function loadSweeps(entity: string, project: string): Promise<SweepSummary[]> {
  const data = await graphql<{ project: { sweeps: { edges: { node: SweepSummary }[] } | null }
    | null }>(`query UiSweeps($project: String!, $entity: String!) {
      project(name: $project, entityName: $entity) {
        sweeps(first: 100) { edges { node { name displayName configJson state method runCount
          bestLoss createdAt } } }
      }
    }`, { entity, project });
  return (data.project?.sweeps?.edges ?? []).map((e) => e.node);
}
