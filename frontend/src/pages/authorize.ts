// /authorize, where `wandb login` sends people: who is signed in, and a new named API key
// on request (POST /api/v1/auth/keys, shown once).
import { ApiError, auth, toLogin } from "../api";
import { h, replace } from "../dom";
import { frame } from "../layout";

export async function authorizePage(): Promise<void> {
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
  const name = h("input", { name: "name", required: true, value: "wandb login",
    maxlength: 100 });
  const create = async (event: Event) => {
    event.preventDefault();
    replace(result);
    try {
      const made = await auth.createKey(name.value.trim());
      const key = String(made.key ?? made.api_key ?? "");
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
    h("p", null, "The wandb SDK and the tracklet client authenticate with an API key. " +
      "Create one for each machine or purpose:"),
    h("form", { onsubmit: create }, h("label", null, "Key name", name),
      h("button", { type: "submit" }, "Create API key")),
    result));
}
