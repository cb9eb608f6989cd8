"""The app shell for page URLs, the built static assets, and the URL convertor that keeps
page routes off the API's paths.

The shell names the Vite build's entry script and stylesheet, read from
``static/.vite/manifest.json`` (re-read when the file changes, so a rebuild needs no
restart). It carries no inline script or style, so its Content-Security-Policy allows only
this origin's files. Hashed assets (``static/assets/``) are cached for a year as immutable;
the shell and anything else revalidate on every load.
"""

from __future__ import annotations

import html
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from tracklet.errors import NotFound

#: Where ``npm run build`` (frontend/) writes the assets.
STATIC_DIR = Path(__file__).parent / "static"
_MANIFEST = STATIC_DIR / ".vite" / "manifest.json"
_ENTRY = "src/main.ts"

#: First path segments that are never an entity: the API's own prefixes and the fixed
#: pages. A page route's ``{entity:entity}`` refuses them, so ``/api/nope`` stays a 404 and
#: never turns into a project page (checked against ``ROUTES`` by tests/ui/test_pages.py).
RESERVED_SEGMENTS = frozenset({
    "api", "graphql", "files", "storage", "static", "artifacts", "artifactsV2", "health",
    "healthz", "ready", "login", "logout", "authorize", "query", "sdk", "favicon.ico", "robots.txt",
    "metrics",
})

#: The shell's policy: scripts, styles, fonts and fetches from this origin only, nothing
#: inline, no plugins, no framing by other sites, forms post only here.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "frame-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
])

_SHELL_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
_IMMUTABLE = "public, max-age=31536000, immutable"

#: /authorize may also post a new key to a ``tracklet login`` waiting on this machine's
#: loopback interface (RFC 8252's loopback redirect), and to no other place.
AUTHORIZE_CSP = CONTENT_SECURITY_POLICY.replace(
    "form-action 'self'", "form-action 'self' http://127.0.0.1:*")
_AUTHORIZE_HEADERS = {**_SHELL_HEADERS, "Content-Security-Policy": AUTHORIZE_CSP}


class EntitySegment(Convertor[str]):
    """A path segment naming an entity: any segment but the :data:`RESERVED_SEGMENTS`."""

    regex = "(?!(?:" + "|".join(sorted(RESERVED_SEGMENTS)).replace(".", r"\.") + ")/)[^/]+"

    def convert(self, value: str) -> str:
        """The segment as the handler sees it."""
        return value

    def to_string(self, value: str) -> str:
        """The segment in a URL."""
        return value


register_url_convertor("entity", EntitySegment())


@dataclass(frozen=True)
class _Assets:
    """The entry's script and stylesheets (URLs under /static/), or none when not built."""

    script: str | None
    styles: tuple[str, ...]


_assets_lock = threading.Lock()
_assets_cache: tuple[float, _Assets] | None = None


def _assets() -> _Assets:
    global _assets_cache
    try:
        mtime = os.stat(_MANIFEST).st_mtime
    except OSError:
        return _Assets(None, ())
    with _assets_lock:
        if _assets_cache is not None and _assets_cache[0] == mtime:
            return _assets_cache[1]
    try:
        entry: dict[str, Any] = orjson.loads(_MANIFEST.read_bytes())[_ENTRY]
    except (OSError, ValueError, KeyError):
        return _Assets(None, ())
    found = _Assets(f"/static/{entry['file']}",
                    tuple(f"/static/{css}" for css in entry.get("css", [])))
    with _assets_lock:
        _assets_cache = (mtime, found)
    return found


def shell_html() -> str:
    """The app shell: the entry's stylesheet and module script, and a message for browsers
    without JavaScript (or a server whose UI was not built)."""
    assets = _assets()
    head = [f'<link rel="stylesheet" href="{html.escape(css)}">' for css in assets.styles]
    if assets.script is not None:
        head.append(f'<script type="module" src="{html.escape(assets.script)}"></script>')
        body = "<noscript>tracklet's web UI needs JavaScript.</noscript>"
    else:
        body = ("<p>tracklet's web UI is not built on this server: run <code>make ui</code> "
                "(Node.js 20 and npm) in the source tree, or install a wheel.</p>")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\"><title>tracklet</title>"
            f"{''.join(head)}</head><body><div id=\"app\">{body}</div></body></html>\n")


async def page(_request: Request) -> Response:
    """Any page URL: the app shell (its script renders the page from the path)."""
    return HTMLResponse(shell_html(), headers=_SHELL_HEADERS)


async def authorize_page(_request: Request) -> Response:
    """/authorize: the app shell, allowed to post a key to a loopback ``tracklet login``."""
    return HTMLResponse(shell_html(), headers=_AUTHORIZE_HEADERS)


def _static_path(name: str) -> Path | None:
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    path = STATIC_DIR.joinpath(*parts)
    return path if path.is_file() else None


async def static_file(request: Request) -> Response:
    """A built asset; hashed ones (under ``assets/``) cached as immutable for a year."""
    name = request.path_params["name"]
    path = _static_path(name)
    if path is None:
        raise NotFound(f"no static file {name!r}")
    cache = _IMMUTABLE if name.startswith("assets/") else "no-cache"
    return FileResponse(path, headers={"Cache-Control": cache,
                                       "X-Content-Type-Options": "nosniff"})
