// Formatting of values for display (always as text; see dom.ts).

/** A date-time as the viewer's local "YYYY-MM-DD HH:MM". */
export function dateTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "";
  const d = typeof value === "number" ? new Date(value * 1000) : parseDate(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** GraphQL DateTimes come without a zone and are UTC. */
export function parseDate(value: string): Date {
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : value + "Z");
}

/** Seconds as "1h 2m 3s". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  let s = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) parts.push(`${d}d`);
  if (hh) parts.push(`${hh}h`);
  if (m && !d) parts.push(`${m}m`);
  if (!d && !hh) parts.push(`${s}s`);
  return parts.join(" ");
}

/** A logged value as short text: numbers to 6 significant digits, objects as JSON. */
export function value(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return number(v);
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** A number in at most 6 significant digits (integers in full). */
export function number(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e9)) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

/** A byte count as "12.3 KB" (powers of 1024). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** The smallest and largest of `values` ([Infinity, -Infinity] when empty), without
 * spreading them into Math.min's arguments (which overflows the stack for long arrays). */
export function extent(values: Iterable<number>): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
