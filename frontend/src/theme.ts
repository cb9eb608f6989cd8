// Light and dark themes: the system's choice by default, or the one the user picked with the
// top bar's toggle (kept in localStorage). The stylesheet reads `data-theme` on <html>.
// A switch dispatches `tracklet:theme` on window: the charts (canvases, whose axes read the
// stylesheet's colours at each draw) redraw on it.

export type Theme = "auto" | "light" | "dark";
const KEY = "tracklet.theme";
const ORDER: Theme[] = ["auto", "light", "dark"];

/** The theme the user picked ("auto": follow the system). */
export function storedTheme(): Theme {
  try {
    const t = localStorage.getItem(KEY);
    return t === "light" || t === "dark" ? t : "auto";
  } catch {
    return "auto";
  }
}

/** Apply `theme` to the page (and remember it). */
export function applyTheme(theme: Theme, remember = true): void {
  const root = document.documentElement;
  if (theme === "auto") delete root.dataset.theme; else root.dataset.theme = theme;
  if (!remember) return;
  window.dispatchEvent(new CustomEvent("tracklet:theme", { detail: theme }));
  try {
    if (theme === "auto") localStorage.removeItem(KEY); else localStorage.setItem(KEY, theme);
  } catch { /* storage off: the choice lasts for this page only */ }
}

/** The theme after `theme` in the toggle's cycle. */
export function nextTheme(theme: Theme): Theme {
  return ORDER[(ORDER.indexOf(theme) + 1) % ORDER.length];
}
