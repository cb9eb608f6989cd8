"""A fuzz campaign against the app in process: hypothesis-generated file_stream payloads,
GraphQL documents drawn from the schema (any Query or Mutation field, arguments of the
right type or not, nested selections) and malformed bodies, sent by a second user against
his own run and against a victim's.

What must hold for every case: no 5xx; the victim's secret never appears in an answer;
the victim's stored run (config, summary, state, tags, notes, history, run count) is the
same after the campaign as before; and what the attacker's own ingest accepted reads back
without a 5xx (history and series routes after each file_stream case).

    python -m benchmarks.fuzz --cases 5000 [--seed N] [--db postgresql://...]

prints the counts of answers by kind of case and status, and every failure (exit 1).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
)
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

try:  # the test client's own HTTP package (starlette's testclient prefers httpx2)
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

from tracklet.config import Settings
from tracklet.server.app import create_app
from tracklet.server.graphql import build_schema
from tracklet.server.graphql.ids import encode_id
from tracklet.storage import Storage
from tracklet.storage.metadata import runs as run_repo

VICTIM, ATTACKER = "fz-victim", "fz-attacker"
SECRET = "fz-secret-7f3a"
ADMIN_KEY = "local-" + "fuzz" * 10 + "abcd"
#: Mutations that would only lock the attacker out of his own account (every later case
#: then answers 401 and fuzzes nothing).
SELF_LOCKOUT = {"deleteApiKey", "revokeSession", "deleteUser"}
_MAX_DEPTH = 3


@dataclass
class Campaign:
    """The app under fuzz, its two users and what the campaign has seen."""

    client: TestClient
    storage: Storage
    keys: dict[str, str]
    run_id: str
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    #: Signed URLs handed out at setup: the victim's secret file, the attacker's own file.
    urls: dict[str, str] = field(default_factory=dict)

    def send(self, method: str, path: str, who: str = ATTACKER, *, credentials: bool = True,
             label: str = "", **kwargs: Any) -> Any:
        """One request as ``who`` (with no key of his when ``credentials`` is False, as for
        signed URLs or a request bringing its own Authorization header), counted under
        ``label`` (by default the path's first part) and its status; a 5xx or a leak of the
        victim's secret is a failure."""
        if credentials:
            kwargs["auth"] = ("api", self.keys[who])
        try:
            got = self.client.request(method, path, **kwargs)
        except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
            # What no HTTP client puts on the wire (a raw tab in the path, a header
            # byte it refuses): refused before the server, counted, not sent.
            self.counts["unsendable"] += 1
            return None
        kind = path.split("/")[1].split("?")[0] or "root"
        if path.endswith("file_stream"):
            kind = "file_stream"
        elif kind == "api":
            kind = "/".join(path.split("?")[0].split("/")[1:4])
        label = f"{label or kind} {got.status_code}"
        if kind == "graphql" and got.status_code == 200 and '"errors"' in got.text:
            label += " errors"
        self.counts[label] += 1
        if got.status_code >= 500:
            self.fail(f"{method} {path}: {got.status_code} {got.text[:300]} "
                      f"for {json.dumps(kwargs, default=str)[:600]}")
        elif who == ATTACKER and SECRET in _text(got):
            self.fail(f"{method} {path}: leaked the victim's secret: {got.text[:300]}")
        return got

    def fail(self, message: str) -> None:
        """Record a failure (the first 50 are kept)."""
        if len(self.failures) < 50:
            self.failures.append(message)

    def graphql(self, who: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The data of a GraphQL request that must succeed (the campaign's own setup)."""
        got = self.client.post("/graphql", auth=("api", self.keys[who]),
                               json={"query": query, "variables": variables or {}})
        got.raise_for_status()
        body = got.json()
        if body.get("errors"):
            raise RuntimeError(f"{query[:80]}: {body['errors']}")
        return body["data"]


def _text(got: Any) -> str:
    """An answer's body as text, whatever its encoding (a download is bytes)."""
    return str(got.content.decode("utf-8", "replace"))


def snapshot(storage: Storage) -> tuple[Any, ...]:
    """The victim's stored run and project, as a refused caller must leave them."""
    with storage.db.read() as conn:
        run = run_repo.find_run_by_path(conn, VICTIM, "p", "r1")
        assert run is not None
        count = run_repo.count_runs(conn, run.project_id)
    return (run.config, run.summary, run.state, run.tags, run.notes,
            run.history_line_count, run.display_name, count)


@contextmanager
def campaign(settings: Settings) -> Iterator[Campaign]:
    """The app in process on ``settings`` with the victim's run (secret config, history)
    and the attacker's own run; 5xx answers come back as answers, not exceptions."""
    settings = replace(settings, history_compaction_interval_s=0, crash_check_interval_s=3600)
    storage = Storage.open(settings)
    try:
        storage.bootstrap_admin(ADMIN_KEY)
        keys = {name: storage.create_user(name)[1] for name in (VICTIM, ATTACKER)}
        with TestClient(create_app(settings, storage), base_url="http://testserver",
                        raise_server_exceptions=False) as client:
            ids = {}
            for who in (VICTIM, ATTACKER):
                body = client.post("/graphql", auth=("api", keys[who]), json={
                    "query": "mutation($i: UpsertBucketInput!) { upsertBucket(input: $i) "
                             "{ bucket { id } } }",
                    "variables": {"i": {"entityName": who, "modelName": "p", "name": "r1",
                                        "config": json.dumps({"s": {"value": SECRET}})}}})
                body.raise_for_status()
                ids[who] = body.json()["data"]["upsertBucket"]["bucket"]["id"]
                client.post(f"/files/{who}/p/r1/file_stream", auth=("api", keys[who]),
                            json={"files": {"wandb-history.jsonl": {"offset": 0, "content": [
                                '{"_step": 0, "loss": 0.5}']}}}).raise_for_status()
            c = Campaign(client, storage, keys, ids[VICTIM])
            _secrets_elsewhere(c)
            yield c
    finally:
        storage.close()


def _secrets_elsewhere(c: Campaign) -> None:
    """The victim's secret in a history value, a console line and a run file, and a file
    of the attacker's own: what the REST routes and signed URLs could leak."""
    from benchmarks.fuzz_rest import download_url, upload_file

    c.client.post(f"/files/{VICTIM}/p/r1/file_stream", auth=("api", c.keys[VICTIM]), json={
        "files": {"wandb-history.jsonl": {"offset": 1, "content": [
            json.dumps({"_step": 1, "loss": 0.25, "note": SECRET})]},
            "output.log": {"offset": 0, "content": [f"2026-01-01T00:00:00 {SECRET}"]}},
    }).raise_for_status()
    for who, name in ((VICTIM, "secret.txt"), (ATTACKER, "mine.txt")):
        upload_file(c, who, "r1", name, f"{who} {SECRET if who == VICTIM else 'ok'}\n".encode())
        c.urls[who] = download_url(c, who, "r1", name)


# -- file_stream payloads ----------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20)


def _deep(depth: int) -> str:
    return '{"_step": 1, "d": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


def _json_line(value: Any) -> str:
    # NaN/Infinity as the SDK writes them (json.dumps' tokens), not rejected client-side.
    return json.dumps(value, allow_nan=True)


_LINES = st.one_of(
    _VALUES.map(_json_line),
    st.dictionaries(st.sampled_from(["_step", "_runtime", "_timestamp", "loss", "acc", "x"]),
                    _SCALARS, max_size=5).map(_json_line),
    st.integers(min_value=1, max_value=400).map(_deep),
    st.text(max_size=80),
)
_FILE_NAMES = st.one_of(st.sampled_from([
    "wandb-history.jsonl", "wandb-summary.json", "output.log", "wandb-events.jsonl",
    "../escape.jsonl", "media/x.png"]), st.text(max_size=30))
_FILE = st.fixed_dictionaries(
    {"offset": st.one_of(st.integers(min_value=-5, max_value=10),
                         st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=5)),
     "content": st.one_of(st.lists(_LINES, max_size=6), _VALUES)})
_STREAM = st.fixed_dictionaries({"files": st.one_of(
    st.dictionaries(_FILE_NAMES, _FILE, max_size=3), _VALUES)},
    optional={"complete": st.booleans(), "exitcode": _SCALARS, "preempting": _SCALARS,
              "dropped": _SCALARS, "uploaded": st.lists(st.text(max_size=20), max_size=3)})


def file_stream_case(c: Campaign, payload: Any, target: str) -> None:
    """Send one file_stream payload to ``target``'s run; after one to the attacker's own
    run, read it back through the history and series routes."""
    # Encoded here: NaN and Infinity go on the wire as the SDK's JSON writes them.
    c.send("POST", f"/files/{target}/p/r1/file_stream", content=_json_line(payload),
           headers={"Content-Type": "application/json"})
    if target == ATTACKER:
        c.send("GET", "/api/v1/runs/history", params={"run": f"{ATTACKER}/p/r1",
                                                      "keys": "loss,x,d"})
        c.send("GET", "/api/v1/runs/series", params={"runs": f"{ATTACKER}/p/r1",
                                                     "keys": "loss"})


# -- GraphQL documents from the schema --------------------------------------------------------

_NAMES = [VICTIM, ATTACKER, "fz-ghost", "p", "r1", "", "wandb-registry-x"]


def _unwrap(t: Any) -> Any:
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def _literal(value: Any) -> str:
    """A GraphQL literal for a Python value (strings escaped as JSON, which GraphQL reads)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, int) or math.isfinite(value) else "0"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, _Enum):
        return value.name
    return json.dumps(str(value))


@dataclass(frozen=True)
class _Enum:
    name: str


def _input_value(draw: Any, t: GraphQLInputType, run_id: str, depth: int = 0) -> Any:
    nullable = not isinstance(t, GraphQLNonNull)
    if isinstance(t, GraphQLNonNull):
        t = t.of_type
    if nullable and draw(st.integers(0, 9)) == 0:
        return None
    if isinstance(t, GraphQLList):
        return [_input_value(draw, t.of_type, run_id, depth + 1)
                for _ in range(draw(st.integers(0, 2 if depth < 2 else 0)))]
    if isinstance(t, GraphQLInputObjectType):
        out = {}
        for name, f in t.fields.items():
            required = isinstance(f.type, GraphQLNonNull)
            if depth < 2 and (required or draw(st.booleans())):
                out[name] = _input_value(draw, f.type, run_id, depth + 1)
        return out
    if isinstance(t, GraphQLEnumType):
        return _Enum(draw(st.sampled_from(list(t.values))))
    name = t.name if isinstance(t, GraphQLScalarType) else "String"
    if name == "Int":
        return draw(st.integers(min_value=-(2**31), max_value=2**31 - 1))
    if name in ("Int64", "Float"):
        return draw(st.one_of(st.integers(-(2**63), 2**63 - 1),
                              st.floats(allow_nan=False, allow_infinity=False)))
    if name == "Boolean":
        return draw(st.booleans())
    if name == "ID":
        return draw(st.one_of(st.just(run_id), st.just(encode_id("Artifact", 1)),
                              st.just(encode_id("Project", 1)), st.text(max_size=12)))
    if name in ("JSONString", "JSON"):
        return draw(_VALUES.map(lambda v: json.dumps(v, allow_nan=True)) | st.text(max_size=20))
    return draw(st.one_of(st.sampled_from(_NAMES), st.text(max_size=24)))


def _selection(draw: Any, t: Any, run_id: str, depth: int) -> str:
    t = _unwrap(t)
    if isinstance(t, (GraphQLScalarType, GraphQLEnumType)):
        return ""
    if isinstance(t, GraphQLUnionType):
        return "{ __typename }"
    assert isinstance(t, (GraphQLObjectType, GraphQLInterfaceType))
    fields = sorted(t.fields)
    scalars = [n for n in fields
               if isinstance(_unwrap(t.fields[n].type), (GraphQLScalarType, GraphQLEnumType))]
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=4, unique=True))
    parts = []
    for name in chosen:
        sub_type = _unwrap(t.fields[name].type)
        nested = not isinstance(sub_type, (GraphQLScalarType, GraphQLEnumType))
        if nested and depth >= _MAX_DEPTH:
            continue
        parts.append(_field(draw, name, t.fields[name], run_id, depth + 1))
    if not parts:
        parts = [scalars[0] if scalars else "__typename"]
    return "{ " + " ".join(parts) + " }"


def _field(draw: Any, name: str, f: GraphQLField, run_id: str, depth: int) -> str:
    args = []
    for arg_name, arg in f.args.items():
        if isinstance(arg.type, GraphQLNonNull) or draw(st.booleans()):
            args.append(f"{arg_name}: {_literal(_input_value(draw, arg.type, run_id))}")
    text = name + (f"({', '.join(args)})" if args else "")
    return text + " " + _selection(draw, f.type, run_id, depth)


def graphql_document(draw: Any, schema: GraphQLSchema, run_id: str) -> str:
    """One operation: a Query or Mutation root field with arguments and a selection."""
    root = schema.mutation_type if draw(st.integers(0, 2)) == 0 else schema.query_type
    assert root is not None
    names = [n for n in sorted(root.fields) if n not in SELF_LOCKOUT]
    name = draw(st.sampled_from(names))
    kind = "mutation" if root is schema.mutation_type else "query"
    return f"{kind} {{ {_field(draw, name, root.fields[name], run_id, 1)} }}"


_RAW = st.one_of(st.binary(max_size=200), _VALUES.map(lambda v: json.dumps(v).encode()),
                 st.text(max_size=200).map(str.encode))


# -- the campaign -------------------------------------------------------------------------------


#: The kinds of case, drawn with these weights.
KINDS = ["file_stream", "file_stream", "graphql", "graphql", "graphql", "raw", "rest", "rest",
         "openapi", "signed_url", "signed_url"]


def run_campaign(c: Campaign, cases: int, seed_value: int = 0,
                 kinds: list[str] | None = None) -> None:
    """``cases`` generated cases (file_stream, GraphQL, raw bodies, REST routes, signed URLs;
    ``kinds`` to draw from fewer) against ``c``."""
    from benchmarks.fuzz_rest import openapi_case, rest_case, signed_url_case

    schema = build_schema()

    @seed(seed_value)
    @settings(max_examples=cases, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(st.data())
    def one(data: Any) -> None:
        draw = data.draw
        kind = draw(st.sampled_from(kinds or KINDS))
        if kind == "rest":
            rest_case(c, draw)
        elif kind == "openapi":
            openapi_case(c, draw)
        elif kind == "signed_url":
            signed_url_case(c, draw)
        elif kind == "file_stream":
            file_stream_case(c, draw(_STREAM), draw(st.sampled_from([ATTACKER, VICTIM])))
        elif kind == "graphql":
            document = graphql_document(draw, schema, c.run_id)
            c.send("POST", "/graphql", json={"query": document})
        else:
            path = draw(st.sampled_from(["/graphql", f"/files/{VICTIM}/p/r1/file_stream",
                                         f"/files/{ATTACKER}/p/r1/file_stream"]))
            ctype = draw(st.sampled_from(["application/json", "text/plain",
                                          "application/x-www-form-urlencoded"]))
            c.send("POST", path, content=draw(_RAW), headers={"Content-Type": ctype})

    one()


def main(argv: list[str]) -> int:
    """Run a campaign of ``--cases`` and print the counts by status and every failure."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db", default="", help="a PostgreSQL URL (default: SQLite)")
    ap.add_argument("--verbose", action="store_true", help="keep the server's error log")
    ap.add_argument("--quick", action="store_true", help="50 cases (python -m benchmarks "
                    "--quick)")
    args, _other = ap.parse_known_args(argv)  # the other workloads' shared options
    if args.quick:
        args.cases = 50
    if not args.verbose:  # every refused case logs; the counts below say what matters
        for name in ("tracklet", "graphql", "ariadne"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="tracklet-fuzz-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", db=args.db)
        with campaign(settings) as c:
            before = snapshot(c.storage)
            t0 = time.monotonic()
            run_campaign(c, args.cases, args.seed)
            elapsed = time.monotonic() - t0
            if snapshot(c.storage) != before:
                c.fail("the victim's stored run changed")
    print(f"{args.cases} cases ({sum(c.counts.values())} requests) in {elapsed:.0f} s")
    for key, n in sorted(c.counts.items()):
        print(f"  {key:<28} {n}")
    fives = sum(n for k, n in c.counts.items() if k.split()[-1].startswith("5"))
    print(f"5xx: {fives}; failures: {len(c.failures)}")
    for failure in c.failures:
        print("FAIL", failure)
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
