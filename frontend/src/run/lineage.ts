// The artifact page's lineage graph: the run that logged the version on the left, the
// version in the middle, the runs that used it on the right, joined by arrows. SVG built
// from nodes (names are text, never markup); each run is a link to its page.
import { path } from "../dom";

/** A run in the graph: its id, label and project. */
export interface GraphRun { name: string; label: string; entity: string; project: string }

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 200, NODE_H = 36, GAP_X = 90, GAP_Y = 14, PAD = 8, MAX_CHARS = 26;

function s(tag: string, attrs: Record<string, string | number>, ...kids: (Node | string)[]):
    SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const kid of kids) el.append(kid);
  return el;
}

function short(text: string): string {
  return text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS - 1)}…` : text;
}

function node(x: number, y: number, kind: string, label: string, sub: string,
    attrs: Record<string, string>): SVGElement {
  return s("g", { class: `lineage-node ${kind}`, ...attrs },
    s("title", {}, `${label} (${sub})`),
    s("rect", { x, y, width: NODE_W, height: NODE_H, rx: 6 }),
    s("text", { x: x + 10, y: y + 15, class: "node-label" }, short(label)),
    s("text", { x: x + 10, y: y + 29, class: "node-sub" }, short(sub)));
}

function runNode(run: GraphRun, x: number, y: number, role: string): SVGElement {
  const link = s("a", { href: path(run.entity, run.project, "runs", run.name),
    "data-run": run.name, "data-role": role });
  link.append(node(x, y, "run", run.label, `run ${run.name}`, {}));
  return link;
}

function edge(x1: number, y1: number, x2: number, y2: number, from: string, to: string):
    SVGElement {
  const mid = (x1 + x2) / 2;
  return s("path", { class: "lineage-edge", d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ` +
    `${x2 - 6} ${y2}`, "marker-end": "url(#lineage-arrow)", "data-from": from,
    "data-to": to });
}

/** The graph of `artifact` (its label and type), `producer` and `consumers`. */
export function lineageGraph(artifact: string, type: string, producer: GraphRun | null,
    consumers: GraphRun[]): SVGElement {
  const rows = Math.max(1, consumers.length);
  const height = PAD * 2 + rows * NODE_H + (rows - 1) * GAP_Y;
  const width = PAD * 2 + 3 * NODE_W + 2 * GAP_X;
  const centerY = height / 2 - NODE_H / 2;
  const ax = PAD + NODE_W + GAP_X, cx = ax + NODE_W + GAP_X;
  const parts: SVGElement[] = [s("defs", {}, s("marker", { id: "lineage-arrow",
    viewBox: "0 0 10 10", refX: 4, refY: 5, markerWidth: 8, markerHeight: 8,
    orient: "auto-start-reverse" }, s("path", { d: "M 0 0 L 10 5 L 0 10 z",
    class: "arrow-head" })))];
  if (producer) {
    parts.push(edge(PAD + NODE_W, centerY + NODE_H / 2, ax, centerY + NODE_H / 2,
      `run:${producer.name}`, "artifact"), runNode(producer, PAD, centerY, "producer"));
  }
  parts.push(node(ax, centerY, "artifact", artifact, type, { "data-node": "artifact" }));
  consumers.forEach((run, i) => {
    const y = PAD + i * (NODE_H + GAP_Y);
    parts.push(edge(ax + NODE_W, centerY + NODE_H / 2, cx, y + NODE_H / 2, "artifact",
      `run:${run.name}`), runNode(run, cx, y, "consumer"));
  });
  return s("svg", { class: "lineage-graph", viewBox: `0 0 ${width} ${height}`,
    width, height, role: "img", "aria-label": `lineage of ${artifact}` }, ...parts);
}
