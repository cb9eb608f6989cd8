// /query: the SQL console. One SELECT over the views runs, history, system_metrics and
// artifacts (docs/query.md), answered by POST /api/v1/query with only the runs the signed-in
// user may read. The statement and scope live in the URL (?sql=...&scope=...), so a query is
// shared by its link.
import { ApiError, postJson } from "../api";
import { h, replace } from "../dom";
import { value } from "../format";
import { frame } from "../layout";

interface Answer {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  row_count: number;
  truncated: boolean;
  row_limit: number;
  elapsed_s: number;
}

const EXAMPLE = `SELECT h.run, arg_max(h._step, h."val/acc") AS step, max(h."val/acc") AS best
FROM history h JOIN runs r USING (run)
WHERE r."config.lr" < 1e-3
GROUP BY h.run ORDER BY best DESC`;

const VIEWS = "Views: runs (run, entity, project, id, name, state, group, job_type, tags, " +
  "user, created_at, runtime, config, summary, \"config.<key>\", \"summary.<key>\"), " +
  "history (run, _step, one column per metric), system_metrics, artifacts.";

export async function queryPage(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const editor = h("textarea", { class: "sql", rows: 8, spellcheck: "false",
    "aria-label": "SQL" }) as HTMLTextAreaElement;
  editor.value = params.get("sql") ?? EXAMPLE;
  const scope = h("input", { class: "scope", placeholder: "entity or entity/project (optional)",
    "aria-label": "Scope" }) as HTMLInputElement;
  scope.value = params.get("scope") ?? "";
  const status = h("p", { class: "muted status" });
  const result = h("div", { class: "result" });

  async function run(): Promise<void> {
    const sql = editor.value.trim();
    if (!sql) return;
    const url = new URL(location.href);
    url.searchParams.set("sql", sql);
    if (scope.value.trim()) url.searchParams.set("scope", scope.value.trim());
    else url.searchParams.delete("scope");
    history.replaceState(null, "", url);
    replace(status, "Running...");
    replace(result);
    try {
      const body: Record<string, unknown> = { sql, format: "json" };
      if (scope.value.trim()) body.scope = scope.value.trim();
      const answer = await postJson<Answer>("/api/v1/query", body);
      replace(status, `${answer.row_count} row${answer.row_count === 1 ? "" : "s"} in ` +
        `${answer.elapsed_s.toFixed(2)} s`,
        answer.truncated ? h("strong", { class: "error" },
          ` (cut at the row limit of ${answer.row_limit}: aggregate or add a LIMIT)`) : "");
      replace(result, table(answer));
    } catch (err) {
      replace(status);
      replace(result, h("pre", { class: "error" },
        err instanceof ApiError || err instanceof Error ? err.message : String(err)));
    }
  }

  editor.addEventListener("keydown", (event: KeyboardEvent) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void run();
    }
  });
  frame([{ text: "SQL console" }], h("h1", null, "SQL console"),
    h("p", { class: "muted" }, VIEWS),
    editor, h("div", { class: "controls" }, scope,
      h("button", { type: "button", onclick: () => void run() }, "Run (Ctrl+Enter)")),
    status, result);
  if (params.get("sql")) await run();
}

function table(answer: Answer): HTMLElement {
  return h("table", { class: "grid query" },
    h("thead", null, h("tr", null, answer.columns.map((c) =>
      h("th", { title: c.type }, c.name)))),
    h("tbody", null, answer.rows.map((row) => h("tr", null, row.map((cell) =>
      h("td", { class: typeof cell === "number" ? "num" : null }, value(cell)))))));
}
