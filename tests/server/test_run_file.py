"""GET /api/v1/runs/file: a run's file from this origin (every backend), HTML media as a
sandboxed document, access checked, bad input a 400."""

from __future__ import annotations

from tests.support.app import InProcessApp
from tests.support.artifact_flow import new_caller
from tracklet.server.rest.run_file import byte_range

UPSERT = """mutation U($p: String!, $r: String!) {
  upsertBucket(input: {name: $r, modelName: $p}) { bucket { id } } }"""
CREATE_FILES = """mutation F($e: String!, $p: String!, $r: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $e, projectName: $p, runName: $r, files: $files}) {
    files { name uploadUrl } } }"""

PNG = bytes.fromhex("89504e470d0a1a0a") + b"not really a png"
HTML = b"<p style='color: red'>hi</p><script>alert(1)</script>"
FILES = {"media/images/a.png": PNG, "media/html/page_0.html": HTML, "notes.svg": b"<svg/>"}


def _upload(app: InProcessApp) -> None:
    assert "errors" not in app.graphql(UPSERT, {"p": "media", "r": "r1"})
    body = app.graphql(CREATE_FILES, {"e": "admin", "p": "media", "r": "r1",
                                      "files": list(FILES)})
    for f in body["data"]["createRunFiles"]["files"]:
        assert app.client.put(f["uploadUrl"], content=FILES[f["name"]],
                              auth=None).status_code == 200


def test_files_come_from_this_origin_with_a_safe_type(app: InProcessApp) -> None:
    _upload(app)
    image = app.client.get("/api/v1/runs/file", params={
        "run": "admin/media/r1", "name": "media/images/a.png"})
    assert image.status_code == 200 and image.content == PNG
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    # A type a browser would run goes out as an attachment, under the locked-down policy.
    svg = app.client.get("/api/v1/runs/file", params={"run": "admin/media/r1",
                                                      "name": "notes.svg"})
    assert svg.status_code == 200 and svg.content == b"<svg/>"
    assert svg.headers["content-type"] == "application/octet-stream"
    assert svg.headers["content-disposition"].startswith("attachment")
    raw = app.client.get("/api/v1/runs/file", params={"run": "admin/media/r1",
                                                      "name": "media/html/page_0.html"})
    assert raw.headers["content-type"] == "application/octet-stream"


def test_html_media_is_a_sandboxed_document_framed_by_this_site_only(
        app: InProcessApp) -> None:
    _upload(app)
    page = app.client.get("/api/v1/runs/file", params={
        "run": "admin/media/r1", "name": "media/html/page_0.html", "view": "html"})
    assert page.status_code == 200 and page.content == HTML
    assert page.headers["content-type"].startswith("text/html")
    csp = [d.strip() for d in page.headers["content-security-policy"].split(";")]
    assert "sandbox" in csp and "default-src 'none'" in csp
    assert "style-src 'unsafe-inline'" in csp and "frame-ancestors 'self'" in csp
    assert not any(d.startswith("script-src") for d in csp)
    assert page.headers["x-frame-options"] == "SAMEORIGIN"


def test_others_and_bad_input_are_refused(app: InProcessApp) -> None:
    _upload(app)
    bob = new_caller(app, "bob")
    foreign = app.client.get("/api/v1/runs/file", auth=("api", bob.key), params={
        "run": "admin/media/r1", "name": "media/images/a.png"})
    assert foreign.status_code == 404
    assert app.client.get("/api/v1/runs/file", auth=None, params={
        "run": "admin/media/r1", "name": "media/images/a.png"}).status_code == 401
    for params, words in (({"run": "admin/media", "name": "x"}, "entity/project/run"),
                          ({"run": "admin/media/r1"}, "name must"),
                          ({"run": "admin/media/r1", "name": "a.png", "view": "js"}, "view"),
                          ({"run": "admin/media/r1", "name": "media/images/a.png",
                            "view": "html"}, ".html files only")):
        response = app.client.get("/api/v1/runs/file", params=params)
        assert response.status_code == 400 and words in response.json()["error"], params
    for run, name in (("admin/media/nope", "x.png"), ("admin/media/r1", "missing.png")):
        response = app.client.get("/api/v1/runs/file", params={"run": run, "name": name})
        assert response.status_code == 404, (run, name)


def test_one_byte_range_is_served_for_players_to_seek(app: InProcessApp) -> None:
    _upload(app)
    params = {"run": "admin/media/r1", "name": "media/images/a.png"}
    whole = app.client.get("/api/v1/runs/file", params=params)
    assert whole.headers["accept-ranges"] == "bytes"
    for header, first, last in (("bytes=2-5", 2, 5), ("bytes=3-", 3, len(PNG) - 1),
                                ("bytes=-4", len(PNG) - 4, len(PNG) - 1),
                                ("bytes=0-100000", 0, len(PNG) - 1)):
        part = app.client.get("/api/v1/runs/file", params=params, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == PNG[first:last + 1], header
        assert part.headers["content-range"] == f"bytes {first}-{last}/{len(PNG)}"
        assert part.headers["content-type"] == "image/png"
    # Ranges it does not serve get the whole file.
    for header in ("bytes=100-", "bytes=5-2", "bytes=0-1,4-5", "lines=1-2", "bytes=-0"):
        full = app.client.get("/api/v1/runs/file", params=params, headers={"Range": header})
        assert full.status_code == 200 and full.content == PNG, header


def _put(app: InProcessApp, name: str, data: bytes) -> None:
    body = app.graphql(CREATE_FILES, {"e": "admin", "p": "media", "r": "r1", "files": [name]})
    url, = (f["uploadUrl"] for f in body["data"]["createRunFiles"]["files"])
    assert app.client.put(url, content=data, auth=None).status_code == 200


def test_players_revalidate_by_etag_and_a_stale_if_range_gets_the_new_file(
        app: InProcessApp) -> None:
    _upload(app)
    params = {"run": "admin/media/r1", "name": "media/images/a.png"}
    first = app.client.get("/api/v1/runs/file", params=params)
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) > 2
    assert first.headers["cache-control"] == "private, no-cache"
    # Going back to a file already held: 304, no body; a ranged ask the same.
    for extra in ({}, {"Range": "bytes=2-5"}):
        again = app.client.get("/api/v1/runs/file", params=params,
                               headers={"If-None-Match": f'"other", W/{tag}', **extra})
        assert again.status_code == 304 and again.content == b"", extra
        assert again.headers["etag"] == tag
    assert app.client.get("/api/v1/runs/file", params=params,
                          headers={"If-None-Match": "*"}).status_code == 304
    other = app.client.get("/api/v1/runs/file", params=params,
                           headers={"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.content == PNG
    # If-Range naming what is held: the range; naming anything else: the whole file.
    part = app.client.get("/api/v1/runs/file", params=params,
                          headers={"Range": "bytes=2-5", "If-Range": tag})
    assert part.status_code == 206 and part.content == PNG[2:6]
    # The file replaced under the same name: a new tag, and the old one gets the new bytes.
    newer = PNG + b" and more"
    _put(app, "media/images/a.png", newer)
    for headers in ({"If-None-Match": tag}, {"Range": "bytes=2-5", "If-Range": tag}):
        fresh = app.client.get("/api/v1/runs/file", params=params, headers=headers)
        assert fresh.status_code == 200 and fresh.content == newer, headers
        assert fresh.headers["etag"] not in (tag, None)


def test_byte_range_parsing() -> None:
    assert byte_range("bytes=10-", 0) is None
    assert byte_range(None, 10) is None
    assert byte_range("bytes=2-3", 10) == (2, 3)
    assert byte_range("bytes=-3", 10) == (7, 9)
    assert byte_range("bytes=-30", 10) == (0, 9)
