// The runs table's layout a user made in a project (the config/summary columns chosen and
// the widths of the columns resized), kept across reloads in this browser.
//
// Kept in localStorage, keyed by the signed-in user and entity/project, rather than on the
// server: it is a view preference of one person at one screen (widths fit that screen), it
// needs no schema, route or access rule, and a write per drag costs no request. The user is
// part of the key because people share browser profiles (a lab machine), and localStorage
// is already per origin, so per server. The project is part of it because the columns are
// that project's config and summary keys.

/** One project's saved table layout. */
export interface ColumnLayout {
  /** The config/summary columns chosen (`config:<key>`, `summary:<key>`); null: never
   * chosen here, the page's default applies. */
  chosen: string[] | null;
  /** Widths (px) of the resized columns, by column id. */
  widths: Record<string, number>;
}

const PREFIX = "tracklet.runs-table.v1";

/** The localStorage key of `user`'s layout of `entity`/`project` (JSON-encoded parts, so
 * no name can run into another's). */
export function layoutKey(user: string, entity: string, project: string): string {
  return `${PREFIX}:${JSON.stringify([user, entity, project])}`;
}

function parse(text: string | null): ColumnLayout {
  const empty: ColumnLayout = { chosen: null, widths: {} };
  if (!text) return empty;
  try {
    const raw = JSON.parse(text) as { chosen?: unknown; widths?: unknown };
    const chosen = Array.isArray(raw.chosen)
      ? raw.chosen.filter((c): c is string => typeof c === "string") : null;
    const widths: Record<string, number> = {};
    if (raw.widths && typeof raw.widths === "object") {
      for (const [id, w] of Object.entries(raw.widths as Record<string, unknown>)) {
        if (typeof w === "number" && Number.isFinite(w) && w > 0) widths[id] = Math.round(w);
      }
    }
    return { chosen, widths };
  } catch {
    return empty;  // written by another version or by hand: start over
  }
}

/** A project's saved layout for one user; every change is written at once. */
export class ColumnStore {
  private readonly key: string;
  private layout: ColumnLayout;

  constructor(user: string, entity: string, project: string) {
    this.key = layoutKey(user, entity, project);
    let text: string | null = null;
    try {
      text = localStorage.getItem(this.key);
    } catch { /* storage off: nothing saved */ }
    this.layout = parse(text);
  }

  /** The layout as last saved. */
  get(): ColumnLayout {
    return { chosen: this.layout.chosen?.slice() ?? null, widths: { ...this.layout.widths } };
  }

  /** Save the chosen columns. */
  setChosen(chosen: Iterable<string>): void {
    this.layout.chosen = [...chosen];
    this.write();
  }

  /** Save the resized columns' widths (the others are natural). */
  setWidths(widths: ReadonlyMap<string, number>): void {
    this.layout.widths = Object.fromEntries(widths);
    this.write();
  }

  private write(): void {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.layout));
    } catch { /* storage off or full: the layout lasts for this page only */ }
  }
}
