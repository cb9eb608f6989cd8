// The run's files tab: every file the run uploaded, with its size, a download link (the
// signed URL the server hands out, as the SDK gets it) and a preview of images and text.
import { graphql, request, runFileUrl, sitePath } from "../api";
import { h, replace } from "../dom";
import { bytes, dateTime } from "../format";
import { treeTable } from "./tree";

export interface RunFile {
  name: string;
  sizeBytes: number;
  mimetype: string | null;
  updatedAt: string | null;
  url: string | null;
}

const FILES = `query UiRunFiles($project: String!, $entity: String!, $name: String!,
    $names: [String], $after: String) {
  project(name: $project, entityName: $entity) {
    run(name: $name) {
      files(names: $names, after: $after, first: 1000) {
        edges { node { name sizeBytes mimetype updatedAt url } }
        pageInfo { endCursor hasNextPage }
      }
    }
  }
}`;

/** The run's files (all of them, or those named), in name order. */
export async function runFiles(entity: string, project: string, name: string,
    names?: string[]): Promise<RunFile[]> {
  const out: RunFile[] = [];
  let after: string | null = null;
  for (;;) {
    type Page = { project: { run: { files: { edges: { node: RunFile }[];
      pageInfo: { endCursor: string | null; hasNextPage: boolean } } } | null } | null };
    const data: Page = await graphql<Page>(FILES, { entity, project, name, after,
      names: names ?? null });
    const files = data.project?.run?.files;
    if (!files) return out;
    out.push(...files.edges.map((e) => e.node));
    if (names || !files.pageInfo.hasNextPage || !files.pageInfo.endCursor) return out;
    after = files.pageInfo.endCursor;
  }
}

const IMAGE = /\.(png|jpe?g|gif|webp|bmp)$/i;
const AUDIO = /\.(wav|mp3|ogg|oga|flac|m4a)$/i;
const VIDEO = /\.(mp4|webm|ogv)$/i;
const HTML = /\.html?$/i;
const TEXT = /\.(txt|log|json|jsonl|ya?ml|md|csv|py|cfg|toml|ini|sh)$/i;
/** Text previews show at most this many bytes. */
const PREVIEW_BYTES = 256 * 1024;

async function preview(run: string, file: RunFile, box: HTMLElement): Promise<void> {
  const url = runFileUrl(run, file.name);
  if (IMAGE.test(file.name)) {
    replace(box, h("img", { src: url, alt: file.name, class: "preview-image" }));
    return;
  }
  if (AUDIO.test(file.name) || VIDEO.test(file.name)) {
    replace(box, h(AUDIO.test(file.name) ? "audio" : "video", { src: url, controls: true,
      class: "preview-media", "data-path": file.name }));
    return;
  }
  if (HTML.test(file.name)) {  // its own document, sandboxed without scripts (media.ts)
    replace(box, h("div", { class: "html-box" }, h("iframe", { sandbox: "",
      src: runFileUrl(run, file.name, "html"), class: "html-frame",
      title: `${file.name} (sandboxed)`, referrerpolicy: "no-referrer" })));
    return;
  }
  const response = await request(url);
  const text = await response.text();
  replace(box, h("pre", { class: "preview-text" }, text.slice(0, PREVIEW_BYTES),
    text.length > PREVIEW_BYTES ? "\n… (truncated: download the file for the rest)" : ""));
}

/** Fill `box` with the run's files as a folder tree (folders open on click), each file with
 * its size, time, download link and preview. */
export async function filesTab(box: HTMLElement, entity: string, project: string,
    name: string): Promise<void> {
  const files = await runFiles(entity, project, name);
  if (!files.length) {
    replace(box, h("p", { class: "muted" }, "No files."));
    return;
  }
  const run = `${entity}/${project}/${name}`;
  const shown = h("div", { class: "file-preview" });
  const total = files.reduce((n, f) => n + (f.sizeBytes || 0), 0);
  replace(box, h("p", { class: "muted" }, `${files.length} files, ${bytes(total)}`),
    treeTable(files, ["Updated", ""], (f, base) => {
      const canPreview = f.url && [IMAGE, TEXT, AUDIO, VIDEO, HTML].some((re) =>
        re.test(f.name));
      return [
        f.url ? h("a", { href: sitePath(f.url), download: base, title: f.name }, base) : base,
        dateTime(f.updatedAt),
        canPreview ? h("button", { type: "button", class: "link preview",
          onclick: () => void preview(run, f, shown).catch((err: unknown) => replace(shown,
            h("p", { class: "error" }, String(err)))) }, "preview") : ""];
    }),
    shown);
}
