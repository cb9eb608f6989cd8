// The frame of every page: a top bar (home, breadcrumbs, the signed-in user, sign-out) and
// the page's content; and the one place page errors are shown.
import { ApiError, auth, graphql, toLogin } from "./api";
import { type Child, h, replace } from "./dom";
import { applyTheme, nextTheme, storedTheme, type Theme } from "./theme";

/** A breadcrumb: text, linked when `href` is given. */
export interface Crumb { text: string; href?: string }

/** Replace the page with the top bar and `content`; returns the content box. */
export function frame(crumbs: Crumb[], ...content: Child[]): HTMLElement {
  const user = h("span", { class: "user" });
  const main = h("main", null, ...content);
  const nav = h("nav", { class: "crumbs" }, h("a", { href: "/", class: "brand" }, "tracklet"),
    crumbs.map((c) => [h("span", { class: "sep" }, "/"),
      c.href ? h("a", { href: c.href }, c.text) : h("span", null, c.text)]));
  replace(document.getElementById("app")!, h("header", { class: "top" }, nav,
    h("div", { class: "top-right" }, themeToggle(), user)), main);
  void showUser(user);
  return main;
}

const THEME_LABEL: Record<Theme, string> = { auto: "Theme: system", light: "Theme: light",
  dark: "Theme: dark" };

/** A button cycling the theme: system, light, dark. */
function themeToggle(): HTMLElement {
  const button = h("button", { type: "button", class: "link theme-toggle",
    "data-theme": storedTheme(), title: "switch light/dark theme" },
  THEME_LABEL[storedTheme()]);
  button.addEventListener("click", () => {
    const next = nextTheme(storedTheme());
    applyTheme(next);
    button.dataset.theme = next;
    button.textContent = THEME_LABEL[next];
  });
  return button;
}

let viewer: Promise<{ username: string; entity: string } | null> | null = null;

/** The signed-in user's name and default entity (null when signed out). */
export function currentUser(): Promise<{ username: string; entity: string } | null> {
  viewer ??= graphql<{ viewer: { username: string; entity: string } | null }>(
    "query UiViewer { viewer { username entity } }").then((d) => d.viewer, () => null);
  return viewer;
}

async function showUser(box: HTMLElement): Promise<void> {
  const me = await currentUser();
  if (!me) return;
  replace(box, h("a", { href: "/authorize", title: "API keys" }, me.username), " ",
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"));
}

async function signOut(): Promise<void> {
  try {
    await auth.logout();
  } catch {
    /* signed in by API key only: nothing to end */
  }
  location.assign("/login");
}

/** Run a page; a 401 goes to the sign-in page, any other failure is shown as text. */
export async function guard(page: () => Promise<void>): Promise<void> {
  try {
    await page();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      toLogin();
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    frame([], h("p", { class: "error" }, message));
  }
}
