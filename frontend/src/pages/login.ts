// Sign-in: a username and password, or an API key (the one printed at first start signs
// the admin in). Posts to /api/v1/auth/login, which sets the session and CSRF cookies.
import { ApiError, auth } from "../api";
import { h } from "../dom";
import { frame } from "../layout";

/** Where to go after signing in: a path on this site only (never another origin). */
export function nextPath(search: string): string {
  const next = new URLSearchParams(search).get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}

export async function loginPage(): Promise<void> {
  const message = h("p", { class: "error", role: "alert" });
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password",
    autocomplete: "current-password", required: true });
  const apiKey = h("input", { name: "api_key", type: "password", autocomplete: "off",
    required: true, spellcheck: "false" });

  const submit = (body: () => Parameters<typeof auth.login>[0]) => async (event: Event) => {
    event.preventDefault();
    message.textContent = "";
    try {
      await auth.login(body());
      location.assign(nextPath(location.search));
    } catch (err) {
      message.textContent = err instanceof ApiError && err.status === 404
        ? "This server does not offer browser sign-in yet."
        : err instanceof ApiError && (err.status === 401 || err.status === 403)
          ? "Sign-in failed: wrong username, password or API key."
          : `Sign-in failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  };

  frame([{ text: "Sign in" }], h("div", { class: "signin" },
    h("h1", null, "Sign in to tracklet"),
    h("form", { id: "password-form", onsubmit: submit(() => ({
      username: username.value, password: password.value })) },
      h("label", null, "Username", username),
      h("label", null, "Password", password),
      h("button", { type: "submit" }, "Sign in")),
    h("p", { class: "or" }, "or"),
    h("form", { id: "key-form", onsubmit: submit(() => ({ api_key: apiKey.value.trim() })) },
      h("label", null, "API key", apiKey),
      h("p", { class: "muted" },
        "The key the server printed at its first start signs the admin in."),
      h("button", { type: "submit" }, "Sign in with API key")),
    message));
}
