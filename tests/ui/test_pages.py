"""The page routes without a browser: which URLs answer the shell, its security headers, the
static assets' caching, and that no page route swallows an API path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Match

from tests.support.app import InProcessApp, in_process_app
from tracklet.config import Settings
from tracklet.server.routes import ROUTES
from tracklet.ui.pages import AUTHORIZE_CSP, CONTENT_SECURITY_POLICY, RESERVED_SEGMENTS, page

PAGE_URLS = ["/", "/login", "/authorize", "/query", "/admin/demo", "/admin/demo/",
             "/admin/my%20project/runs/abc123", "/some-team/p/runs/x=y+z&w$@"]
NOT_PAGES = ["/api/nope", "/api/v1/nope", "/api/v1/runs/nope", "/graphql/x", "/files/a/b",
             "/storage/x", "/artifacts/x", "/health/x", "/files/a/b/c/d",
             "/api/x/runs/y"]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    """The app in process on SQLite (the pages do not touch the store)."""
    with in_process_app(Settings(data_dir=tmp_path_factory.mktemp("ui-pages"))) as app:
        yield app


def test_page_urls_answer_the_shell_without_credentials(app: InProcessApp) -> None:
    for url in PAGE_URLS:
        response = app.client.get(url, auth=None, follow_redirects=True)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/html"), url
        assert '<div id="app">' in response.text, url
        policy = AUTHORIZE_CSP if url.startswith("/authorize") else CONTENT_SECURITY_POLICY
        assert response.headers["content-security-policy"] == policy, url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"] == "no-cache"


def test_authorize_may_post_only_to_the_loopback_interface() -> None:
    """/authorize posts a new key to `tracklet login`'s listener on 127.0.0.1 (any port) and
    nowhere else; the rest of its policy is the shell's."""
    shell = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    authorize = dict(d.split(" ", 1) for d in AUTHORIZE_CSP.split("; "))
    assert authorize.pop("form-action") == "'self' http://127.0.0.1:*"
    shell.pop("form-action")
    assert authorize == shell


def test_the_policy_allows_nothing_inline_or_foreign() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY and "http" not in CONTENT_SECURITY_POLICY


def test_the_shell_has_no_inline_script_or_style(app: InProcessApp) -> None:
    text = app.client.get("/", auth=None).text
    assert "<style" not in text and " style=" not in text
    for script in re.findall(r"<script[^>]*>(.*?)</script>", text, re.S):
        assert script == ""


def test_api_paths_are_never_pages(app: InProcessApp) -> None:
    for url in NOT_PAGES:
        for method in ("GET", "POST"):
            response = app.client.request(method, url, auth=None)
            assert response.status_code == 404, (method, url, response.text[:200])
            assert "text/html" not in response.headers.get("content-type", ""), url


def test_every_api_prefix_is_reserved() -> None:
    """A new top-level API prefix must join RESERVED_SEGMENTS, or pages would shadow it."""
    page_routes = [r for r in ROUTES if r.endpoint.__name__ == page.__name__]
    for r in ROUTES:
        if r in page_routes:
            continue
        first = r.path.strip("/").split("/")[0]
        assert first in RESERVED_SEGMENTS, r.path
    for segment in RESERVED_SEGMENTS:
        for r in page_routes:
            scope = {"type": "http", "method": "GET", "path": f"/{segment}/x"}
            assert r.matches(scope)[0] is Match.NONE, (segment, r.path)


def test_hashed_assets_are_cached_for_a_year(app: InProcessApp, ui_assets: None) -> None:
    text = app.client.get("/", auth=None).text
    assets = re.findall(r'(?:src|href)="(/static/assets/[^"]+)"', text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for url in assets:
        response = app.client.get(url, auth=None, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        if url.endswith(".js"):
            assert response.headers["content-type"].startswith("text/javascript")
            assert response.headers.get("content-encoding") == "gzip"
            # No third-party origin is ever contacted at run time.
            assert "https://cdn" not in response.text and "unpkg.com" not in response.text


def test_static_refuses_paths_outside_and_hidden_files(app: InProcessApp, ui_assets: None,
                                                       ) -> None:
    for url in ["/static/.vite/manifest.json", "/static/..%2f..%2fpages.py",
                "/static/assets/../../pages.py", "/static/.build-stamp"]:
        assert app.client.get(url, auth=None).status_code == 404, url


def test_the_shell_says_when_the_ui_is_not_built(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    from tracklet.ui import pages

    monkeypatch.setattr(pages, "_MANIFEST", tmp_path / "missing.json")
    html = pages.shell_html()
    assert "make ui" in html and "<script" not in html


def test_the_ui_gets_no_basic_challenge(app: InProcessApp) -> None:
    """A 401 has no ``WWW-Authenticate: Basic`` (the browser would open its password
    dialog and then send what was typed with every request): not to the UI's requests, and
    not to anyone's, since the SDK sends its key without being challenged."""
    body = {"query": "{ viewer { username } }"}
    for headers in ({"X-Tracklet-UI": "1"}, {}):
        response = app.client.post("/graphql", json=body, auth=None, headers=headers)
        assert response.status_code == 401 and "www-authenticate" not in response.headers


def test_the_links_the_sdk_prints_are_pages(app: InProcessApp) -> None:
    """run.url, run.project_url and `wandb login`'s "Create a new API key at ..." link, as
    the pinned SDK's own code builds them, answer the shell."""
    from wandb.sdk.lib.wbauth.host_url import HostUrl
    from wandb.sdk.lib.wbauth.prompt import _authorize_url
    from wandb.sdk.wandb_settings import Settings as WandbSettings

    base = "http://testserver"
    settings = WandbSettings(base_url=base, entity="admin", project="demo",
                             run_id="lr=0.1+seed&1$x@y")
    links = [settings.run_url, settings.project_url,
             _authorize_url(HostUrl(base), signup=False, referrer="")]
    assert links[0] == f"{base}/admin/demo/runs/lr=0.1+seed&1$x@y"
    assert links[2] == f"{base}/authorize"
    for link in links:
        response = app.client.get(link, auth=None)
        assert response.status_code == 200, link
        assert '<div id="app">' in response.text, link
