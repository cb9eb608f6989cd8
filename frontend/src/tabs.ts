// Tabs on a page: a bar of links to `#<id>` and one panel per tab, each built the first
// time it is shown (so a run page only fetches what the user looks at).
import { type Child, h, replace } from "./dom";

export interface Tab {
  id: string;
  title: string;
  /** Fill `box` (called once, on the tab's first showing). */
  render: (box: HTMLElement) => Promise<void> | void;
}

/** The tab bar and panels for `tabs`; the URL hash picks the tab (the first by default). */
export function tabbed(tabs: Tab[]): HTMLElement {
  const boxes = new Map(tabs.map((t) => [t.id, h("div", { class: "tab-panel",
    "data-tab": t.id, hidden: true })]));
  const links = new Map(tabs.map((t) => [t.id, h("a", { href: `#${t.id}`, class: "tab",
    role: "tab", "data-tab": t.id }, t.title)]));
  const done = new Set<string>();
  const show = () => {
    const wanted = location.hash.slice(1);
    const tab = tabs.find((t) => t.id === wanted) ?? tabs[0];
    for (const t of tabs) {
      boxes.get(t.id)!.hidden = t.id !== tab.id;
      links.get(t.id)!.setAttribute("aria-selected", String(t.id === tab.id));
    }
    if (done.has(tab.id)) return;
    done.add(tab.id);
    const box = boxes.get(tab.id)!;
    Promise.resolve().then(() => tab.render(box)).catch((err: unknown) => {
      replace(box, h("p", { class: "error" }, err instanceof Error ? err.message
        : String(err)));
    });
  };
  window.addEventListener("hashchange", show);
  const el = h("div", { class: "tabs" },
    h("nav", { class: "tab-bar", role: "tablist" }, [...links.values()]),
    [...boxes.values()]);
  queueMicrotask(show);
  return el;
}

/** A short "loading…" line for a panel being filled. */
export function loading(): Child {
  return h("p", { class: "muted" }, "loading…");
}
