"""A W&B-protocol responder that stores nothing: the SDK's own cost of being online.

It answers the handful of operations a plain ``init/log/finish`` sends with canned replies,
drains file_stream bodies and uploads, and keeps no state beyond counting requests. Timing the
SDK against it, next to offline mode and next to tracklet, separates what the SDK spends on
talking to any server from what tracklet's storage adds.

Run standalone: ``python -m benchmarks.null_responder PORT``.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

_ROOT_FIELDS = ("upsertBucket", "createRunFiles", "viewer", "serverInfo", "entity")


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
        payload = orjson.dumps({"data": _graphql_answer(body, f"http://{host}")})
    elif path == "/ready":
        payload = b'{"status": "ready"}'
    elif not (path.endswith("/file_stream") or (method == "PUT" and path.startswith("/upload/"))):
        status, payload = 404, b"not found"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False)
