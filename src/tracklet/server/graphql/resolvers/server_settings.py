"""``UpsertBucketPayload.serverSettings``: the server's notices to show at run start, which
SDK releases before 0.28 ask for in ``wandb sync``; tracklet has none to show."""

from __future__ import annotations

from typing import Any

from ariadne import ObjectType

payload_type = ObjectType("UpsertBucketPayload")


@payload_type.field("serverSettings")
def resolve_server_settings(*_: Any) -> dict[str, Any]:
    return {"serverMessages": []}


BINDABLES = [payload_type]
