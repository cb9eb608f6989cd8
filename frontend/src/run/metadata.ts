// What the SDK recorded about where a run ran (its wandb-metadata.json): host, command,
// Python, OS, git remote and commit, shown on the overview.
import { request, runFileUrl } from "../api";

/** The facts of `run`'s wandb-metadata.json, in display order (none when it has none). */
export async function metadataFacts(run: string): Promise<[string, string][]> {
  let meta: Record<string, unknown>;
  try {
    meta = await (await request(runFileUrl(run, "wandb-metadata.json"))).json() as
      Record<string, unknown>;
  } catch {
    return [];
  }
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  const args = Array.isArray(meta.args) ? meta.args.map(String) : [];
  const program = text(meta.codePath) || text(meta.program);
  const git = meta.git && typeof meta.git === "object"
    ? meta.git as { remote?: unknown; commit?: unknown } : {};
  const facts: [string, string][] = [
    ["Host", text(meta.host)],
    ["Command", program ? ["python", program, ...args].join(" ") : ""],
    ["Python", text(meta.python)],
    ["OS", text(meta.os)],
    ["Git remote", text(git.remote)],
    ["Git commit", text(git.commit)],
  ];
  return facts.filter(([, v]) => v !== "");
}
