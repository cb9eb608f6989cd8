// /authorize, where `wandb login` sends people: who is signed in, and a new named API key
// on request (POST /api/v1/auth/keys, shown once). `tracklet login` adds
// ?callback=http://127.0.0.1:<port>/...&state=<token>: the new key is then posted (with the
// state) to that loopback address only, never anywhere else.
import { ApiError, auth, toLogin } from "../api";
import { h, replace } from "../dom";
import { frame } from "../layout";

/** The callback URL if it is http://127.0.0.1:<port>/..., else null. */
export function loopbackCallback(raw: string | null): URL | null {
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const ok = url.protocol === "http:" && url.hostname === "127.0.0.1" && url.port !== "" &&
    url.username === "" && url.password === "" && url.hash === "";
  return ok ? url : null;
}

function postToCallback(callback: URL, key: string, state: string): void {
  const field = (name: string, value: string) =>
    h("input", { type: "hidden", name, value });
  const form = h("form", { method: "post", action: callback.href },
    field("key", key), field("state", state));
  document.body.append(form);
  form.submit();
}

export async function authorizePage(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const rawCallback = params.get("callback");
  const callback = loopbackCallback(rawCallback);
  const state = params.get("state") ?? "";
  const box = frame([{ text: "API keys" }], h("p", { class: "muted" }, "loading…"));
  let who: string;
  try {
    who = (await auth.me()).username;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    replace(box, h("div", { class: "narrow" }, h("h1", null, "API keys"),
      h("p", null, "This server does not offer browser sign-in yet. An administrator " +
        "issues keys with ", h("code", null, "tracklet user key NAME"), ".")));
    return;
  }
  const result = h("div", { class: "new-key" });
  if (rawCallback !== null && (callback === null || !state)) {
    replace(box, h("div", { class: "narrow" }, h("h1", null, "API keys"),
      h("p", { class: "error" }, "Refusing to send a key to this callback: only " +
        "http://127.0.0.1:<port>/ addresses with a state token are allowed.")));
    return;
  }
  const name = h("input", { name: "name", required: true,
    value: callback ? "tracklet login" : "wandb login",
    maxlength: 100 });
  const create = async (event: Event) => {
    event.preventDefault();
    replace(result);
    try {
      const made = await auth.createKey(name.value.trim());
      const key = String(made.key ?? made.api_key ?? "");
      if (callback) {
        replace(result, h("p", null, `Sending the key to tracklet login at ${callback.host}…`));
        postToCallback(callback, key, state);
        return;
      }
      const field = h("input", { class: "key", readonly: true, value: key, size: 48 });
      replace(result,
        h("p", null, "Your new API key (shown once, copy it now):"), field,
        h("button", { type: "button", onclick: () => {
          field.select();
          void navigator.clipboard?.writeText(key);
        } }, "Copy"),
        h("p", null, "Then: ", h("code", null, `wandb login --host ${location.origin}`),
          " and paste it."));
    } catch (err) {
      replace(result, h("p", { class: "error" },
        `Could not create a key: ${err instanceof Error ? err.message : String(err)}`));
    }
  };
  replace(box, h("div", { class: "narrow" },
    h("h1", null, "API keys"),
    h("p", null, "Signed in as ", h("strong", null, who), "."),
    callback
      ? h("p", { class: "callback" }, "tracklet login on this computer (",
        h("code", null, callback.host), ") asks for a new key. Create it to sign in there:")
      : h("p", null, "The wandb SDK and the tracklet client authenticate with an API key. " +
        "Create one for each machine or purpose:"),
    h("form", { onsubmit: create }, h("label", null, "Key name", name),
      h("button", { type: "submit" }, "Create API key")),
    result));
}
