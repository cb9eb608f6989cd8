// Files as a folder tree (by `/` in their names), in a table: a row per folder with its file
// count and total size (a click opens or closes it), a row per file indented under it.
// Used by the run's files tab and the artifact page.
import { type Child, h, replace } from "../dom";
import { bytes } from "../format";

/** What a file needs to sit in the tree. */
export interface TreeFile { name: string; sizeBytes: number }

interface Folder<T> { path: string; name: string; folders: Map<string, Folder<T>>; files: T[];
  bytes: number; count: number }

function fileTree<T extends TreeFile>(files: T[]): Folder<T> {
  const root: Folder<T> = { path: "", name: "", folders: new Map(), files: [], bytes: 0,
    count: 0 };
  for (const f of files) {
    let at = root;
    for (const part of f.name.split("/").slice(0, -1)) {
      let next = at.folders.get(part);
      if (!next) {
        next = { path: at.path ? `${at.path}/${part}` : part, name: part, folders: new Map(),
          files: [], bytes: 0, count: 0 };
        at.folders.set(part, next);
      }
      next.bytes += f.sizeBytes || 0;
      next.count++;
      at = next;
    }
    at.files.push(f);
  }
  return root;
}

/** The table: Name and Size, then `extra` columns; `cells(file, baseName)` gives a file
 * row's name cell and one cell per extra column. Folders start closed. */
export function treeTable<T extends TreeFile>(files: T[], extra: string[],
    cells: (file: T, base: string) => Child[]): HTMLElement {
  const tree = fileTree(files);
  const open = new Set<string>();
  const body = h("tbody");
  const indent = (depth: number) => `indent-${Math.min(depth, 8)}`;
  const rows = (folder: Folder<T>, depth: number): HTMLElement[] => {
    const out: HTMLElement[] = [];
    for (const sub of [...folder.folders.values()].sort((a, b) =>
      a.name.localeCompare(b.name))) {
      const isOpen = open.has(sub.path);
      out.push(h("tr", { class: "folder", "data-folder": sub.path },
        h("td", { class: indent(depth) }, h("button", { type: "button",
          class: "link folder-toggle", "aria-expanded": String(isOpen), onclick: () => {
            if (open.has(sub.path)) open.delete(sub.path); else open.add(sub.path);
            render();
          } }, `${isOpen ? "▾" : "▸"} ${sub.name}/`),
        h("span", { class: "muted folder-count" },
          ` ${sub.count} file${sub.count === 1 ? "" : "s"}`)),
        h("td", { class: "num", "data-bytes": sub.bytes }, bytes(sub.bytes)),
        extra.map(() => h("td", null, ""))));
      if (isOpen) out.push(...rows(sub, depth + 1));
    }
    for (const f of folder.files.slice().sort((a, b) => a.name.localeCompare(b.name))) {
      const [name, ...more] = cells(f, f.name.split("/").pop() ?? f.name);
      out.push(h("tr", { "data-file": f.name, class: "file" },
        h("td", { class: indent(depth) }, name),
        h("td", { class: "num", "data-bytes": f.sizeBytes }, bytes(f.sizeBytes)),
        more.map((c) => h("td", null, c))));
    }
    return out;
  };
  const render = () => replace(body, rows(tree, 0));
  render();
  return h("table", { class: "grid files tree" },
    h("thead", null, h("tr", null, h("th", null, "Name"), h("th", { class: "num" }, "Size"),
      extra.map((t) => h("th", null, t)))),
    body);
}
