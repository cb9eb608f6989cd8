// The run's console tab: output.log as the SDK streamed it (rewritten `\r` progress lines
// already replaced by the server), a page of lines at a time so a million-line log never
// freezes the page, searched on the server, ANSI colours rendered as classed text.
import { consolePage, type ConsolePage } from "../api";
import { renderAnsi } from "../ansi";
import { repeat } from "../chart";
import { h, replace } from "../dom";

/** Lines per page. */
export const PAGE = 1000;

export interface ConsoleLine { ts: string; content: string; error: boolean }

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT[\d:.]+Z?)\s?/;

/** One stored line: `[ERROR ]<ISO timestamp> text`, or the structured-logs JSON object
 * `{"ts", "content", "level"}`. */
export function parseLine(text: string): ConsoleLine {
  if (text.startsWith("{")) {
    try {
      const o = JSON.parse(text) as { ts?: unknown; content?: unknown; level?: unknown };
      if (typeof o.content === "string") {
        return { ts: typeof o.ts === "string" ? o.ts : "", content: o.content,
          error: o.level === "error" };
      }
    } catch {
      /* plain text that starts with a brace */
    }
  }
  let rest = text;
  let error = false;
  if (rest.startsWith("ERROR ")) {
    error = true;
    rest = rest.slice(6);
  }
  const m = TIMESTAMP.exec(rest);
  return m ? { ts: m[1], content: rest.slice(m[0].length), error }
    : { ts: "", content: rest, error };
}

function shortTime(ts: string): string {
  const m = /T(\d\d:\d\d:\d\d)/.exec(ts);
  return m ? m[1] : ts;
}

/** Fill `box` with the console viewer of `run` (entity/project/run). */
export async function consoleTab(box: HTMLElement, run: string, running: () => boolean):
    Promise<void> {
  const lines = h("div", { class: "console", role: "log" });
  const status = h("span", { class: "muted console-status" });
  const search = h("input", { type: "search", class: "console-search",
    placeholder: "Search the console", "aria-label": "search console" });
  const button = (text: string, action: () => void) =>
    h("button", { type: "button", class: "pager", "data-action": text.toLowerCase(),
      onclick: action }, text);
  let after = -1;
  let page: ConsolePage | null = null;
  const back: number[] = [];  // earlier pages' `after`, for Prev while searching
  let query = "";

  const load = async (from: number) => {
    const answer = await consolePage(run, from, PAGE, query);
    after = from;
    page = answer;
    render(answer);
  };
  const render = (answer: ConsolePage) => {
    const rows = answer.lines.map(([i, text]) => {
      const line = parseLine(text);
      return h("div", { class: line.error ? "line stderr" : "line", "data-line": i },
        h("span", { class: "ln" }, i + 1),
        h("span", { class: "ts", title: line.ts }, shortTime(line.ts)),
        h("span", { class: "text" }, renderAnsi(line.content)));
    });
    replace(lines, rows.length ? rows : h("p", { class: "muted" },
      query ? "No line matches." : "No console output."));
    const first = answer.lines[0]?.[0];
    const last = answer.lines[answer.lines.length - 1]?.[0];
    status.textContent = first === undefined ? `${answer.total} lines`
      : query ? `${answer.lines.length} matching lines from line ${first + 1} to ${last! + 1}`
        + ` (of ${answer.total})`
        : `lines ${first + 1}–${last! + 1} of ${answer.total}`;
  };
  const previous = () => {
    if (!page) return;
    if (query) {
      const from = back.pop();
      if (from !== undefined) void load(from);
      return;
    }
    const first = page.lines[0]?.[0] ?? 0;
    void load(Math.max(-1, first - PAGE - 1));
  };
  const next = () => {
    if (page?.next === null || page?.next === undefined) return;
    back.push(after);
    void load(page.next);
  };
  const lastPage = () => {
    if (!page) return;
    back.length = 0;
    query = "";
    search.value = "";
    void load(Math.max(-1, page.total - PAGE - 1));
  };
  let typing = 0;
  search.addEventListener("input", () => {
    window.clearTimeout(typing);
    typing = window.setTimeout(() => {
      query = search.value;
      back.length = 0;
      void load(-1);
    }, 250);
  });
  replace(box, h("div", { class: "console-bar" }, search,
    button("First", () => { back.length = 0; void load(-1); }), button("Prev", previous),
    button("Next", next), button("Last", lastPage), status), lines);
  await load(-1);
  // A long log opens at its end, where a running job's latest output is.
  if (page !== null && (page as ConsolePage).total > PAGE) lastPage();
  // Follows the tail while the run runs and the page shows the log's end: the last shown
  // line (a `\r` progress bar rewrites it in place) and any new ones are checked, and the
  // tail page is shown again when they changed.
  repeat(async () => {
    if (!running()) return false;
    const shown = page?.lines.at(-1);
    if (page && !query && (shown === undefined ? page.total === 0
      : shown[0] >= page.total - 1)) {
      const from = shown === undefined ? -1 : shown[0] - 1;
      const fresh = await consolePage(run, from, PAGE);
      if (fresh.lines.length > 1 || fresh.lines[0]?.[1] !== shown?.[1]) {
        await load(Math.max(-1, fresh.total - PAGE - 1));
        lines.scrollTop = lines.scrollHeight;
      }
    }
    return true;
  }, 3000);
}
