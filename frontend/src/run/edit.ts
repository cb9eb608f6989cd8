// The run's tags and notes, editable on its overview. Saved through the same GraphQL
// mutation the SDK uses (UpsertBucket by run id: null fields stay as they are), with the
// session's CSRF token (api.ts adds it to every write).
import { graphql } from "../api";
import { h, replace } from "../dom";

const EDIT = `mutation UiEditRun($id: String!, $tags: [String!], $notes: String) {
  upsertBucket(input: {id: $id, tags: $tags, notes: $notes}) { bucket { id tags notes } }
}`;

interface Saved { tags: string[]; notes: string | null }

async function save(id: string, change: { tags?: string[]; notes?: string }): Promise<Saved> {
  const data = await graphql<{ upsertBucket: { bucket: Saved } }>(EDIT, {
    id, tags: change.tags ?? null, notes: change.notes ?? null });
  return data.upsertBucket.bucket;
}

/** The tags as chips with a remove button each and an input adding one (Enter). */
export function tagsEditor(id: string, initial: string[]): HTMLElement {
  let tags = initial.slice();
  const box = h("div", { class: "tags-editor" });
  const status = h("span", { class: "edit-status muted", role: "status" });
  const commit = (next: string[]) => {
    status.textContent = "saving…";
    void save(id, { tags: next }).then((saved) => {
      tags = saved.tags;
      status.textContent = "saved";
      render();
    }, (err: unknown) => {
      status.textContent = "";
      status.append(h("span", { class: "error" }, String(err)));
    });
  };
  const input = h("input", { type: "text", class: "tag-input", placeholder: "add a tag",
    "aria-label": "add a tag", maxlength: 128 });
  input.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    const tag = input.value.trim();
    if (tag && !tags.includes(tag)) commit([...tags, tag]);
    input.value = "";
  });
  const render = () => replace(box, tags.map((t) => h("span", { class: "tag", "data-tag": t },
    t, h("button", { type: "button", class: "tag-remove", "aria-label": `remove tag ${t}`,
      title: "remove", onclick: () => commit(tags.filter((x) => x !== t)) }, "×"))),
  input, status);
  render();
  return box;
}

/** The notes as text, with an editor (a textarea, Save and Cancel) on request. */
export function notesEditor(id: string, initial: string | null): HTMLElement {
  let notes = initial ?? "";
  const box = h("div", { class: "notes-editor" });
  const show = () => replace(box,
    h("span", { class: notes ? "notes-text" : "notes-text muted" }, notes || "no notes"),
    h("button", { type: "button", class: "link edit-notes", onclick: edit }, "edit"));
  const edit = () => {
    const area = h("textarea", { class: "notes-input", rows: 4, "aria-label": "notes" });
    area.value = notes;
    const status = h("span", { class: "edit-status muted", role: "status" });
    replace(box, area, h("div", { class: "edit-actions" },
      h("button", { type: "button", class: "save-notes", onclick: () => {
        status.textContent = "saving…";
        void save(id, { notes: area.value }).then((saved) => {
          notes = saved.notes ?? "";
          show();
        }, (err: unknown) => replace(status, h("span", { class: "error" }, String(err))));
      } }, "Save"),
      h("button", { type: "button", class: "cancel-notes", onclick: show }, "Cancel"),
      status));
    area.focus();
  };
  show();
  return box;
}
