// The workspace's run filters: rows of field, operator and value, turned into the same
// MongoDB-style filter `api.runs(path, filters=...)` takes and sent to the server.
import { h, replace } from "../dom";

export const OPERATORS = ["=", "!=", "<", "<=", ">", ">=", "in", "regex"] as const;
export type Operator = typeof OPERATORS[number];

export interface Condition { field: string; op: Operator; value: string }

const MONGO: Record<Operator, string> = { "=": "$eq", "!=": "$ne", "<": "$lt", "<=": "$lte",
  ">": "$gt", ">=": "$gte", in: "$in", regex: "$regex" };

/** A typed value: JSON numbers, booleans and null as such, anything else as text. */
export function typed(text: string): unknown {
  const t = text.trim();
  if (/^(-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null)$/.test(t)) return JSON.parse(t);
  return t;
}

/** The api.runs filter of `conditions` (null for none). */
export function mongoFilter(conditions: Condition[]): Record<string, unknown> | null {
  if (!conditions.length) return null;
  const parts = conditions.map((c) => {
    const v = c.op === "in" ? c.value.split(",").map(typed)
      : c.op === "regex" ? c.value : typed(c.value);
    return { [c.field]: { [MONGO[c.op]]: v } };
  });
  return parts.length === 1 ? parts[0] : { $and: parts };
}

/** The filter bar: a field, an operator, a value and "Add"; each condition a removable
 * chip. `onChange` gets the conditions after every change. */
export function filterBar(fields: string[], onChange: (conditions: Condition[]) => void):
    HTMLElement {
  const conditions: Condition[] = [];
  const field = h("select", { class: "filter-field", "aria-label": "filter field" },
    fields.map((f) => h("option", { value: f }, f)));
  const op = h("select", { class: "filter-op", "aria-label": "filter operator" },
    OPERATORS.map((o) => h("option", { value: o }, o)));
  const value = h("input", { type: "text", class: "filter-value", "aria-label": "filter value",
    placeholder: "value (in: a,b,c)" });
  const chips = h("div", { class: "filter-chips" });
  const show = () => {
    replace(chips, conditions.map((c, i) => h("span", { class: "chip",
      "data-filter": `${c.field} ${c.op} ${c.value}` },
    `${c.field} ${c.op} ${c.value}`,
    h("button", { type: "button", class: "link remove", "aria-label": "remove filter",
      onclick: () => { conditions.splice(i, 1); show(); onChange([...conditions]); } },
    " ✕"))));
  };
  const add = () => {
    if (!field.value || (value.value.trim() === "" && op.value !== "=")) return;
    conditions.push({ field: field.value, op: op.value as Operator, value: value.value });
    value.value = "";
    show();
    onChange([...conditions]);
  };
  value.addEventListener("keydown", (e) => { if (e.key === "Enter") add(); });
  return h("div", { class: "filter-bar" },
    h("div", { class: "filter-row" }, field, op, value,
      h("button", { type: "button", class: "pager add-filter", onclick: add }, "Add filter")),
    chips);
}
