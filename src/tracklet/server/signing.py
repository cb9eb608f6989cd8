"""Signed, expiring tokens for upload and download URLs (the SDK sends no credentials there)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson

from tracklet.errors import PermissionDenied


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, claims: dict[str, Any], ttl_s: int) -> str:
    """A token carrying ``claims`` that verifies until ``ttl_s`` seconds from now."""
    body = _b64(orjson.dumps({**claims, "exp": int(time.time()) + ttl_s}))
    mac = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest()[:20])
    return f"{body}.{mac}"


def verify(secret: bytes, token: str, kind: str) -> dict[str, Any]:
    """The claims of a valid, unexpired token of ``kind``; PermissionDenied otherwise.

    Any malformed token (wrong alphabet, bad padding, non-ASCII) is a forgery, never a 500.
    """
    body, _, mac = token.partition(".")
    # Compared as bytes: compare_digest refuses str with non-ASCII characters.
    expected = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest()[:20]).encode()
    if not mac or not hmac.compare_digest(mac.encode(), expected):
        raise PermissionDenied("invalid URL signature")
    try:
        claims = orjson.loads(_unb64(body))
    except ValueError:
        raise PermissionDenied("invalid URL signature") from None
    if not isinstance(claims, dict) or claims.get("k") != kind:
        raise PermissionDenied("URL signature is for another kind of request")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int) or exp < time.time():
        raise PermissionDenied("signed URL has expired")
    return claims
