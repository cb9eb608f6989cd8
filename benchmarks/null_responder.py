"""A W&B-protocol responder that stores nothing: the SDK's own cost of being online.

It answers the handful of operations a plain ``init/log/finish`` sends with canned replies,
drains file_stream bodies and uploads, and keeps no state. Timing the SDK against it, next to
offline mode and next to tracklet, separates what the SDK spends on talking to any server from
what tracklet's storage adds.

With ``--history-runs``, it also answers the read path of
``wandb.Api().run(path).scan_history(keys=[...])`` for those runs' generated history, from
answers encoded once at startup (benchmarks/null_history.py): the SDK's own ceiling for
reading a metric back.

Run standalone: ``python -m benchmarks.null_responder PORT [--history-runs 0,7 --steps N
--keys m3]``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from benchmarks.null_history import History

_ROOT_FIELDS = ("upsertBucket", "createRunFiles", "viewer", "serverInfo", "entity")
HISTORY: History | None = None
# Requests seen, by kind (GraphQL operation); GET /null-stats shows them,
# so a benchmark can tell how many requests the SDK sent for a read.
COUNTS: Counter[str] = Counter()


def _graphql_answer(body: dict[str, Any], base: str) -> dict[str, Any]:
    query = str(body.get("query", ""))
    variables = body.get("variables") or {}
    # The first root field the document selects (variable names like $entity do not count).
    field = next((f for f in _ROOT_FIELDS if re.search(rf"[{{\s]{f}\s*[({{]", query)), "")
    if field == "upsertBucket":
        name = variables.get("name") or "nullrun1"
        project = variables.get("project") or "uncategorized"
        return {"upsertBucket": {"inserted": True, "bucket": {
            "id": "UnVuOjE=", "name": name, "displayName": name, "description": None,
            "config": "{}", "sweepName": None, "historyLineCount": 0,
            "project": {"id": "UHJvamVjdDox", "name": project,
                        "entity": {"id": "RW50aXR5OjE=", "name": "admin"}}}}}
    if field == "createRunFiles":
        files = variables.get("files") or []
        return {"createRunFiles": {"runID": "UnVuOjE=", "uploadHeaders": [], "files": [
            {"name": f, "uploadUrl": f"{base}/upload/{i}"} for i, f in enumerate(files)]}}
    if field == "viewer":
        return {"viewer": {"id": "VXNlcjox", "entity": "admin", "username": "admin",
                           "email": None, "flags": "{}", "teams": {"edges": []}}}
    if field == "serverInfo":
        return {"serverInfo": {"features": []}}
    if field == "entity":
        return {"entity": {"organization": None}}
    return {}


def _operation(body: dict[str, Any]) -> str:
    """The operation's name, from operationName or the document's ``query Name``."""
    if body.get("operationName"):
        return str(body["operationName"])
    m = re.search(r"(?:query|mutation)\s+(\w+)", str(body.get("query", "")))
    return m.group(1) if m else "graphql"


def _history_answer(body: dict[str, Any]) -> bytes | None:
    """The history read's answer when ``body`` is one of its documents, else None."""
    query = str(body.get("query", ""))
    if HISTORY is None or not re.search(r"[{\s]project\s*\(", query) or "upsertBucket" in query:
        return None
    return HISTORY.answer(query, body.get("variables") or {})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The whole responder."""
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    path, method = scope["path"], scope["method"]
    status, payload = 200, b"{}"
    if path == "/graphql":
        host = dict(scope["headers"]).get(b"host", b"127.0.0.1").decode()
        body = orjson.loads(b"".join(chunks) or b"{}")
        COUNTS[_operation(body)] += 1
        payload = _history_answer(body) or orjson.dumps(
            {"data": _graphql_answer(body, f"http://{host}")})
    elif path == "/null-stats":
        payload = orjson.dumps(COUNTS)
    elif path == "/ready":
        payload = b'{"status": "ready"}'
    elif not (path.endswith("/file_stream") or (method == "PUT" and path.startswith("/upload/"))):
        status, payload = 404, b"not found"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def main(argv: Sequence[str] | None = None) -> None:
    """Serve on 127.0.0.1:PORT until killed."""
    global HISTORY
    import uvicorn

    p = argparse.ArgumentParser(prog="benchmarks.null_responder")
    p.add_argument("port", type=int)
    p.add_argument("--history-runs", default="",
                   help="comma-separated run numbers whose generated history to answer")
    p.add_argument("--steps", type=int, default=0, help="steps of each history run")
    p.add_argument("--keys", default="m3", help="comma-separated keys pages are asked for")
    args = p.parse_args(argv)
    if args.history_runs:
        HISTORY = History([int(r) for r in args.history_runs.split(",")], args.steps,
                          args.keys.split(","))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
