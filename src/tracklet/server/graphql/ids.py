"""Opaque GraphQL ids: base64 of ``"<Type>:<primary key>"``, as W&B's own ids look."""

from __future__ import annotations

import base64
import binascii

from tracklet.errors import InvalidInput


def encode_id(kind: str, pk: int) -> str:
    """The id of the ``kind`` object with primary key ``pk``."""
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


def decode_id(kind: str, value: str) -> int:
    """The primary key inside an id of ``kind``; InvalidInput for anything else."""
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(f"invalid {kind} id {value!r}") from None
    prefix, _, pk = text.rpartition(":")
    # Primary keys are 64-bit signed integers in both databases.
    if prefix != kind or not pk.isdigit() or len(pk) > 19 or int(pk) >= 2**63:
        raise InvalidInput(f"invalid {kind} id {value!r}")
    return int(pk)
