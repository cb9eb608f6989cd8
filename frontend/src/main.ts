// The app: one script for every page; the server answers each page URL with the same shell
// and this picks the page from the path.
import "./style.css";
import { h } from "./dom";
import { frame, guard } from "./layout";
import { authorizePage } from "./pages/authorize";
import { loginPage } from "./pages/login";
import { projectsPage } from "./pages/projects";
import { queryPage } from "./pages/query";
import { runPage } from "./pages/run";
import { sweepPage } from "./pages/sweep";
import { workspacePage } from "./pages/workspace";
import { artifactPage } from "./run/artifacts";
import { applyTheme, storedTheme } from "./theme";

type Page = (...segments: string[]) => Promise<void>;

const PAGES: [RegExp, Page][] = [
  [/^\/$/, projectsPage],
  [/^\/login\/?$/, loginPage],
  [/^\/authorize\/?$/, authorizePage],
  [/^\/query\/?$/, queryPage],
  [/^\/([^/]+)\/([^/]+)\/runs\/([^/]+)\/?$/, runPage],
  [/^\/([^/]+)\/([^/]+)\/sweeps\/([^/]+)\/?$/, sweepPage],
  [/^\/([^/]+)\/([^/]+)\/artifacts\/([^/]+)\/([^/]+)\/([^/]+)\/?$/, artifactPage],
  [/^\/([^/]+)\/([^/]+)\/?$/, workspacePage],
];

async function notFound(): Promise<void> {
  frame([], h("p", { class: "error" }, "No such page."));
}

function route(pathname: string): Promise<void> {
  for (const [pattern, page] of PAGES) {
    const match = pattern.exec(pathname);
    if (match) return guard(() => page(...match.slice(1).map(decodeURIComponent)));
  }
  return notFound();
}

applyTheme(storedTheme(), false);
void route(location.pathname);
