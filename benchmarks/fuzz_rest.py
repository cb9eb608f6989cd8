"""Fuzz cases for the REST routes and the signed URLs (part of ``benchmarks.fuzz``).

* :func:`rest_case`: any route of ``server.routes.ROUTES`` with its path parameters drawn
  (the two users' names, traversal, encoded separators, any text), any method, query
  parameters the handlers read, headers (content types, gzip that is not, ranges, missing,
  foreign or malformed credentials, cookies and CSRF tokens) and a body.
* :func:`openapi_case`: schemathesis's cases (valid and invalid) for every operation of
  the routes' OpenAPI description (``server.openapi``).
* :func:`signed_url_case`: real signed URLs tampered with, forged with the server's secret
  but expired, sent for another object or to another route, an upload URL replayed, and a
  download URL used after its run was deleted.

Beyond the campaign's own checks (no 5xx, the victim's secret in no answer, his run
unchanged), each signed-URL case fails when a refused token is honoured: a 2xx to a tampered,
expired, misrouted or replayed token, a replay that changed the stored bytes, or a download
served after its run was deleted.
"""

from __future__ import annotations

import base64
import functools
import gzip
import time
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import orjson
from hypothesis import strategies as st

from benchmarks.fuzz import _VALUES, ATTACKER, SECRET, VICTIM, Campaign, _json_line
from tracklet.domain.keys import key_name
from tracklet.server.access import Access, AccessRoute
from tracklet.server.openapi import describe
from tracklet.server.routes import ROUTES
from tracklet.server.signing import sign

# -- helpers the campaign's setup uses too ---------------------------------------------------


def upload_file(c: Campaign, who: str, run: str, name: str, data: bytes) -> str:
    """Upload run file ``name`` of ``who``'s run through its signed URL; the URL's path."""
    got = c.graphql(who, """mutation($i: CreateRunFilesInput) { createRunFiles(input: $i) {
        files { name uploadUrl } } }""", {"i": {"entityName": who, "projectName": "p",
                                                "runName": run, "files": [name]}})
    url = _local(got["createRunFiles"]["files"][0]["uploadUrl"])
    c.client.put(url, content=data).raise_for_status()
    return url


def download_url(c: Campaign, who: str, run: str, name: str) -> str:
    """The signed download URL (path and query) of ``who``'s run file ``name``."""
    got = c.graphql(who, """query($e: String!, $r: String!, $n: [String]) {
        project(entityName: $e, name: "p") { run(name: $r) { files(names: $n) {
        edges { node { directUrl } } } } } }""", {"e": who, "r": run, "n": [name]})
    edges = got["project"]["run"]["files"]["edges"]
    return _local(edges[0]["node"]["directUrl"])


def _local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


# -- REST routes ------------------------------------------------------------------------------

_SEGMENTS = st.one_of(
    st.sampled_from([VICTIM, ATTACKER, "fz-ghost", "p", "r1", "secret.txt", "mine.txt", "..",
                     "../..", "%2e%2e", "%2F", "a/../../secret.txt", "wandb-registry-x", "api",
                     "static", "", ".", "index.html", "x" * 300, "\u00e9t\u00e9", "%00"]),
    st.text(max_size=30),
)
_PARAMS = ["run", "runs", "keys", "buckets", "samples", "t", "entity", "project", "format",
           "limit", "offset", "x", "x_min", "x_max", "since", "after", "before", "sql", "name",
           "page", "step_min", "step_max", "tail", "lines", "user", "action"]
_PARAM_VALUES = st.one_of(
    st.sampled_from([f"{VICTIM}/p/r1", f"{ATTACKER}/p/r1", f"{VICTIM}/p/r1,{ATTACKER}/p/r1",
                     "loss", "note", "loss,note", "_step", "*", "0", "-1", "1000000000",
                     "99999999999999999999999", "nan", "arrow", "json", "csv",
                     "select * from runs", "select config from runs", ""]),
    st.integers(-(2**70), 2**70).map(str), st.text(max_size=40))
_RAW_SAFE = "".join(chr(i) for i in range(33, 127) if chr(i) not in "?#")
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
_CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain",
                  "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                  "application/octet-stream", "application/gzip", "", "application/json\x7f"]


def _path(draw: Any, route: AccessRoute, c: Campaign) -> str:
    path = route.path
    for name, _convertor in route.param_convertors.items():
        value = draw(_SEGMENTS)
        if draw(st.booleans()):
            value = quote(value, safe=draw(st.sampled_from(["", "/", "/%"])))
        else:  # raw where a URL can carry it: printable ASCII but for "?" and "#"
            value = quote(value, safe=_RAW_SAFE)
        for pattern in (f"{{{name}}}", f"{{{name}:path}}", f"{{{name}:entity}}"):
            path = path.replace(pattern, value)
    if route.path.startswith("/api/v1/auth/keys/") and \
            path.rsplit("/", 1)[-1] == key_name(c.keys[ATTACKER]):
        path += "x"  # the attacker's own key, revoked, would leave every later case a 401
    return path


def _body(draw: Any, route: AccessRoute) -> bytes | None:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return None
    if choice == 1:
        return bytes(draw(st.binary(max_size=300)))
    if choice == 2:
        return _json_line(draw(_VALUES)).encode()
    if choice == 3:  # shaped like what the JSON routes read
        return orjson.dumps(draw(st.fixed_dictionaries({}, optional={
            "sql": st.sampled_from(["select * from runs", "select config from runs",
                                    "select * from history", "attach 'x' as y",
                                    "select read_text('/etc/passwd')", "copy runs to 'x'"]),
            "username": st.sampled_from([VICTIM, ATTACKER, "admin", ""]),
            "password": st.text(max_size=20), "name": st.text(max_size=20),
            "query": st.sampled_from(["{ viewer { id } }", "not graphql"]),
            "limit": st.integers(-5, 2**40)})))
    if choice == 4:
        return gzip.compress(bytes(draw(st.binary(max_size=200))))
    return b"x" * int(draw(st.integers(0, 70_000)))


def _headers(draw: Any, c: Campaign) -> tuple[dict[str, str], bool]:
    """Headers, and whether the attacker's key goes with them."""
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["Content-Type"] = draw(st.sampled_from(_CONTENT_TYPES))
    if draw(st.integers(0, 5)) == 0:
        headers["Content-Encoding"] = draw(st.sampled_from(["gzip", "br", "deflate", "x"]))
    if draw(st.integers(0, 5)) == 0:
        headers["Range"] = draw(st.sampled_from(["bytes=0-0", "bytes=-1", "bytes=5-2",
                                                 "bytes=0-", "bytes=99999999999999999999-",
                                                 "items=1-2", "bytes=0-1,3-4"]))
    credentials = True
    auth = draw(st.integers(0, 9))
    if auth == 0:
        credentials = False
    elif auth == 1:
        credentials = False
        headers["Authorization"] = draw(st.sampled_from([
            "Basic " + base64.b64encode(b"api:" + c.keys[ATTACKER].encode()).decode() + "=",
            "Basic !!!", "Bearer " + c.keys[ATTACKER], "Bearer", "Basic " + base64.b64encode(
                f"{VICTIM}:{c.keys[ATTACKER]}".encode()).decode(), "Digest x", "\u00e9"]))
    elif auth == 2:
        headers["Cookie"] = draw(st.sampled_from([
            "tracklet_session=forged; tracklet_csrf=x", "tracklet_session=", "a=b"]))
        headers["X-CSRF-Token"] = draw(st.sampled_from(["x", ""]))
    if draw(st.integers(0, 5)) == 0:
        headers.update(draw(st.sampled_from([
            {"X-Forwarded-Proto": "https"}, {"X-Forwarded-For": "1.2.3.4"},
            {"Origin": "https://evil.example"}, {"Accept-Encoding": "gzip"},
            {"Accept": "text/html"}, {"If-None-Match": "*"}])))
    return headers, credentials


def rest_case(c: Campaign, draw: Any) -> None:
    """One request to any route, drawn as the module says."""
    route = draw(st.sampled_from([r for r in ROUTES if isinstance(r, AccessRoute)]))
    methods = sorted(route.methods or {"GET"})
    method = draw(st.sampled_from(methods) if draw(st.integers(0, 3)) else
                  st.sampled_from(_METHODS))
    path = _path(draw, route, c)
    params = draw(st.dictionaries(st.sampled_from(_PARAMS), _PARAM_VALUES, max_size=4))
    headers, credentials = _headers(draw, c)
    body = _body(draw, route) if method not in ("GET", "HEAD") or draw(st.booleans()) else None
    c.send(method, path, credentials=credentials, params=params, headers=headers,
           content=body, label=f"rest {route.path.split('{')[0].rstrip('/') or '/'}")


# -- signed URLs ------------------------------------------------------------------------------

_SIGNED = {r.token: r for r in ROUTES if isinstance(r, AccessRoute)
           and r.access is Access.SIGNED_URL and r.token}


def _prefix(route: AccessRoute) -> str:
    return route.path.split("{")[0]


def _tamper(draw: Any, token: str, other: str) -> str:
    body, _, mac = token.partition(".")
    how = draw(st.integers(0, 6))
    if how == 0:  # one character changed
        i = draw(st.integers(0, len(token) - 1))
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
        new = draw(st.sampled_from([a for a in alphabet if a != token[i]]))
        return token[:i] + str(new) + token[i + 1:]
    if how == 1:  # cut short
        return token[:draw(st.integers(0, len(token) - 1))]
    if how == 2:  # no MAC
        return body + str(draw(st.sampled_from(["", "."])))
    if how == 3:  # another token's MAC
        return f"{body}.{other.partition('.')[2]}"
    if how == 4:  # claims of the victim's file under the attacker's MAC
        claims = {"k": "file", "r": draw(st.integers(0, 5)), "n": "secret.txt",
                  "exp": int(time.time()) + 3600}
        forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
        return f"{forged}.{mac}"
    if how == 5:  # junk around it
        return f"{draw(st.text(max_size=5))}{token}{draw(st.text(min_size=1, max_size=5))}"
    return str(draw(st.text(max_size=60)))


def _refused(c: Campaign, got: Any, what: str) -> None:
    if got is not None and 200 <= got.status_code < 300:
        c.fail(f"{what}: answered {got.status_code} {got.text[:200]}")


def signed_url_case(c: Campaign, draw: Any) -> None:
    """One signed-URL case, drawn as the module says."""
    victim, mine = c.urls[VICTIM], c.urls[ATTACKER]
    kind = draw(st.sampled_from(["tamper", "tamper", "expired", "other_object", "wrong_route",
                                 "replay", "deleted"]))
    label = f"signed {kind}"
    if kind == "tamper":
        url = draw(st.sampled_from([victim, mine]))
        token = _token(url)
        tampered = _tamper(draw, token, _token(mine if url == victim else victim))
        if tampered == token:
            return
        got = c.send("GET", urlsplit(url).path, credentials=False, params={"t": tampered},
                     label=label)
        _refused(c, got, f"tampered token {tampered!r}")
    elif kind == "expired":
        claims = orjson.loads(base64.urlsafe_b64decode(_token(mine).partition(".")[0] + "=="))
        claims.pop("exp", None)
        token = sign(c.storage.signing_secret(), claims, -draw(st.integers(1, 10**7)))
        got = c.send("GET", urlsplit(mine).path, credentials=False, params={"t": token},
                     label=label)
        _refused(c, got, "expired token")
    elif kind == "other_object":
        name = draw(st.sampled_from(["secret.txt", "../secret.txt", "%2e%2e/secret.txt",
                                     f"../../{VICTIM}/p/r1/secret.txt", "mine.txt/../secret.txt",
                                     ""]) | st.text(max_size=20))
        params = [("t", _token(mine))]
        if draw(st.booleans()):  # a second t: the victim's, tampered
            params.insert(draw(st.integers(0, 1)), ("t", _token(victim)[:-2] + "AA"))
        got = c.send("GET", f"{_prefix(_SIGNED['file'])}{quote(name, safe='/%')}",
                     credentials=False, params=params, label=label)
        if got is not None and 200 <= got.status_code < 300 \
                and got.content != f"{ATTACKER} ok\n".encode():
            c.fail(f"other object {name!r}: served {got.content[:100]!r}")
    elif kind == "wrong_route":
        route = draw(st.sampled_from(sorted(_SIGNED.values(), key=lambda r: r.path)))
        method = draw(st.sampled_from(_METHODS))
        got = c.send(method, f"{_prefix(route)}mine.txt", credentials=False,
                     params={"t": _token(mine)}, content=draw(st.binary(max_size=50)),
                     label=label)
        if route.token != "file":
            _refused(c, got, f"a download token on {route.path} {method}")
    elif kind == "replay":
        name = f"replay-{draw(st.integers(0, 10**9))}.txt"
        url = upload_file(c, ATTACKER, "r1", name, b"first\n")
        again = draw(st.binary(max_size=50))
        got = c.send("PUT", url, credentials=False, content=again,
                     label=label if again != b"first\n" else "signed replay, same bytes")
        if again != b"first\n":  # the same bytes again: the SDK's retry, answered as before
            _refused(c, got, "a replayed upload URL")
        stored = c.send("GET", download_url(c, ATTACKER, "r1", name), credentials=False,
                        label=label)
        if stored is None or stored.content != b"first\n":
            c.fail(f"a replayed upload changed the file: "
                   f"{None if stored is None else stored.content[:80]!r}")
    else:
        run = f"gone-{draw(st.integers(0, 10**9))}"
        bucket = c.graphql(ATTACKER, """mutation($i: UpsertBucketInput!) {
            upsertBucket(input: $i) { bucket { id } } }""", {"i": {
            "entityName": ATTACKER, "modelName": "p", "name": run}})
        upload_file(c, ATTACKER, run, "f.txt", b"doomed\n")
        url = download_url(c, ATTACKER, run, "f.txt")
        c.graphql(ATTACKER, "mutation($i: DeleteRunInput!) { deleteRun(input: $i) "
                  "{ clientMutationId } }", {"i": {"id": bucket["upsertBucket"]["bucket"]["id"]}})
        got = c.send("GET", url, credentials=False, label=label)
        _refused(c, got, "a download URL of a deleted run")


# -- schemathesis over the OpenAPI description ---------------------------------------------


@functools.cache
def _operations() -> list[Any]:
    import schemathesis
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_dict(describe())
    return sorted((r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)),
                  key=lambda op: (op.path, op.method))


def openapi_case(c: Campaign, draw: Any) -> None:
    """One case schemathesis draws for one operation of ``server.openapi.describe()``, valid
    or (negative mode) not, sent with the attacker's key unless it brings credentials."""
    from schemathesis import GenerationMode

    operation = draw(st.sampled_from(_operations()))
    mode = draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
    case = draw(operation.as_strategy(generation_mode=mode))
    sent = case.as_transport_kwargs(base_url="http://testserver")
    headers = {k: str(v) for k, v in sent.get("headers", {}).items()
               if k.lower() not in ("connection", "x-schemathesis-testcaseid")}
    if sent.get("cookies"):
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in sent["cookies"].items())
    credentials = "authorization" not in {k.lower() for k in headers} or draw(st.booleans())
    if credentials:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    body: dict[str, Any] = {}
    if "json" in sent:
        body["content"] = orjson.dumps(sent["json"], option=orjson.OPT_NON_STR_KEYS) \
            if _encodable(sent["json"]) else str(sent["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(sent.get("data"), (bytes, str)):
        data = sent["data"]
        body["content"] = data.encode() if isinstance(data, str) else data
    elif sent.get("data") is not None:
        body["data"] = sent["data"]
    c.send(sent["method"], sent["url"], credentials=credentials, headers=headers,
           params=sent.get("params") or None, label=f"openapi {operation.path}", **body)


def _encodable(value: Any) -> bool:
    try:
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return False
    return True


__all__ = ["SECRET", "download_url", "openapi_case", "rest_case", "signed_url_case",
           "upload_file"]
