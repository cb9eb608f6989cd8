// Every request the UI makes, to the server's own APIs only (same origin, no CDN).
//
// Signed-in browsers carry the HttpOnly session cookie; each write (any method but GET/HEAD)
// also sends the JS-readable `tracklet_csrf` cookie's value as `X-CSRF-Token`. A 401 sends
// the page to /login?next=<where it was>.

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The CSRF token the sign-in set (the `tracklet_csrf` cookie), or "". */
export function csrfToken(): string {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "tracklet_csrf") return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** fetch() with the session cookie and, on writes, the CSRF header; throws on non-2xx. */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  const method = (init.method ?? "GET").toUpperCase();
  const headers = new Headers(init.headers);
  // Tells the server to answer 401 without a Basic challenge (which would make the browser
  // open its own password dialog instead of letting the UI show the sign-in page).
  headers.set("X-Tracklet-UI", "1");
  if (method !== "GET" && method !== "HEAD") {
    const token = csrfToken();
    if (token) headers.set("X-CSRF-Token", token);
  }
  const response = await fetch(url, { ...init, method, headers, credentials: "same-origin" });
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  return response;
}

async function errorMessage(response: Response): Promise<string> {
  try {
    const body = await response.json();
    const message = body?.errors?.[0]?.message ?? body?.error ?? body?.detail;
    if (typeof message === "string") return message;
  } catch {
    /* not JSON */
  }
  return `${response.status} ${response.statusText}`;
}

/** POST JSON, read JSON. */
export async function postJson<T>(url: string, body: unknown): Promise<T> {
  const response = await request(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** A GraphQL document, as the SDK sends it; throws on the first GraphQL error. */
export async function graphql<T>(query: string, variables: Record<string, unknown> = {}):
    Promise<T> {
  const body = await postJson<{ data?: T; errors?: { message: string }[] }>(
    "/graphql", { query, variables });
  if (body.errors?.length) throw new ApiError(200, body.errors[0].message);
  if (!body.data) throw new ApiError(200, "empty GraphQL answer");
  return body.data;
}

/** One bucket-reduced series of one key of one run (see /api/v1/runs/series). */
export interface Series {
  bucket: number[];
  count: number[];
  firstStep: number[];
  lastStep: number[];
  min: (number | string | null)[];
  max: (number | string | null)[];
  last: (number | string | null)[];
}

export interface SeriesAnswer {
  x: string;
  start: number;
  bucketWidth: number;
  buckets: number;
  runs: { run: string; series: Record<string, Series> }[];
}

/** The steps from `min` on, in buckets of `width` steps lined up with an earlier answer
 * (a poll for running runs' new points, `bucket_width`). */
export interface AppendFrom { min: number; width: number }

/** A step range: `min` inclusive, `max` exclusive. */
export interface StepRange { min: number; max: number }

/** The arrays a chart draws (the others are left out of the answer, see `series`). */
export const CHART_FIELDS = ["min", "max", "last"] as const;

/** Chart series of `runs` (entity/project/run paths) for `keys`, in `buckets` buckets (of
 * `range` only, when given: a zoomed chart; from `after.min` on in buckets of `after.width`
 * steps, when given: a poll). With `fields`, only those arrays besides `bucket` are sent;
 * the others come back empty. Read in the server's binary float64 layout
 * (`format=binary`, see `decodeSeries`), which costs neither side any number parsing. */
export async function series(runs: string[], keys: string[], buckets: number,
    range?: StepRange, fields?: readonly string[], after?: AppendFrom): Promise<SeriesAnswer> {
  const q = new URLSearchParams({
    runs: runs.join(","), keys: keys.join(","), buckets: String(buckets), format: "binary",
  });
  if (fields) q.set("fields", fields.join(","));
  if (range) {
    q.set("min_step", String(range.min));
    q.set("max_step", String(range.max));
  }
  if (after) {
    q.set("min_step", String(after.min));
    q.set("bucket_width", String(after.width));
  }
  const response = await request(`/api/v1/runs/series?${q}`);
  return decodeSeries(await response.arrayBuffer());
}

const SERIES_ARRAYS = ["count", "firstStep", "lastStep", "min", "max", "last"] as const;

/** The binary series answer (server/rest/series_binary.py): "TKS1", a uint32 header length,
 * the JSON header (axis, fields, per run and key its bucket count), zero bytes up to a
 * multiple of 8, then little-endian float64s: per run, per key, its buckets and then each
 * field's values. Arrays the answer left out come back empty; NaN and ±Infinity are
 * numbers here (the JSON answer's strings). */
export function decodeSeries(body: ArrayBuffer): SeriesAnswer {
  const view = new DataView(body);
  if (body.byteLength < 8 || view.getUint32(0, false) !== 0x544b5331) {
    throw new ApiError(200, "not a binary series answer");
  }
  const size = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(body, 8, size))) as {
    x: string; start: number; bucketWidth: number; buckets: number; fields: string[];
    runs: { run: string; series: Record<string, number> }[] };
  const offset = 8 + size + ((8 - ((8 + size) % 8)) % 8);
  // Little-endian on every machine a browser runs on today; DataView would be the
  // portable, slower path.
  const values = new Float64Array(body, offset, (body.byteLength - offset) / 8);
  let at = 0;
  const take = (n: number): number[] => {
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = values[at + i];
    at += n;
    return out;
  };
  const runs = header.runs.map(({ run, series: counts }) => {
    const series: Record<string, Series> = {};
    for (const [key, n] of Object.entries(counts)) {
      const s: Series = { bucket: take(n), count: [], firstStep: [], lastStep: [], min: [],
        max: [], last: [] };
      for (const f of header.fields) {
        if ((SERIES_ARRAYS as readonly string[]).includes(f)) {
          s[f as typeof SERIES_ARRAYS[number]] = take(n);
        } else {
          at += n;
        }
      }
      series[key] = s;
    }
    return { run, series };
  });
  if (at !== values.length) throw new ApiError(200, "binary series answer of the wrong size");
  return { x: header.x, start: header.start, bucketWidth: header.bucketWidth,
    buckets: header.buckets, runs };
}

/** The signed-in user (GET /api/v1/auth/me). */
export interface Me {
  username: string;
  entity?: string;
  admin?: boolean;
  [other: string]: unknown;
}

export const auth = {
  login: (body: { username: string; password: string } | { api_key: string }) =>
    postJson<Record<string, unknown>>("/api/v1/auth/login", body),
  logout: () => postJson<Record<string, unknown>>("/api/v1/auth/logout", {}),
  me: async (): Promise<Me> => (await request("/api/v1/auth/me")).json() as Promise<Me>,
  createKey: (name: string) =>
    postJson<Record<string, unknown>>("/api/v1/auth/keys", { name }),
};

/** Send the browser to the sign-in page, coming back here afterwards. */
export function toLogin(): void {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

/** One page of a run's console lines (see /api/v1/runs/console). */
export interface ConsolePage {
  run: string;
  total: number;
  lines: [number, string][];
  next: number | null;
}

/** Console lines of `run` (entity/project/run) after line `after`, `limit` of them, only
 * those containing `q` when given. */
export async function consolePage(run: string, after: number, limit: number, q = ""):
    Promise<ConsolePage> {
  const params = new URLSearchParams({ run, after: String(after), limit: String(limit) });
  if (q) params.set("q", q);
  return (await request(`/api/v1/runs/console?${params}`)).json() as Promise<ConsolePage>;
}

/** One run's exact history of `keys` as JSON rows ([_step, ...values]). */
export interface HistoryAnswer { run: string; columns: string[]; rows: unknown[][] }

export async function historyRows(run: string, keys: string[]): Promise<HistoryAnswer> {
  const params = new URLSearchParams({ run, keys: keys.join(","), format: "json" });
  return (await request(`/api/v1/runs/history?${params}`)).json() as Promise<HistoryAnswer>;
}

/** A signed storage URL the server handed out, as a path on this site when it points here
 * (the server writes its configured base URL, which may name another host than the one the
 * browser used); other URLs (presigned S3) are kept. */
export function sitePath(url: string): string {
  try {
    const u = new URL(url, location.origin);
    if (u.pathname.startsWith("/storage/") || u.pathname.startsWith("/artifacts")) {
      return u.pathname + u.search;
    }
    return u.href;
  } catch {
    return url;
  }
}

/** A run's file from this site (GET /api/v1/runs/file): media and previews load from here,
 * never from a bucket's origin, so the pages' CSP names only 'self'. `view: "html"` serves
 * an .html file as a sandboxed document (inline styles, no script) for an iframe. */
export function runFileUrl(run: string, name: string, view?: "html"): string {
  const q = new URLSearchParams({ run, name });
  if (view) q.set("view", view);
  return `/api/v1/runs/file?${q}`;
}
