"""Signed URL tokens: valid ones verify, anything else is PermissionDenied (403), never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracklet.errors import PermissionDenied
from tracklet.server.signing import sign, verify

SECRET = b"k" * 32


def test_round_trip() -> None:
    token = sign(SECRET, {"k": "get", "b": "cas/ab/cd/abcd"}, ttl_s=60)
    assert verify(SECRET, token, "get")["b"] == "cas/ab/cd/abcd"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (sign(SECRET, {"k": "get"}, ttl_s=-1), "expired"),
        (sign(SECRET, {"k": "up"}, ttl_s=60), "another kind"),
        (sign(b"other secret", {"k": "get"}, ttl_s=60), "signature"),
        ("", "signature"),
        (".", "signature"),
        ("abc.é", "signature"),
        ("é.é", "signature"),
    ],
    # Ids must not contain the tokens: they embed the time, and xdist workers must agree.
    ids=["expired", "other-kind", "other-secret", "empty", "dot", "non-ascii-mac",
         "non-ascii-body"],
)
def test_rejections(token: str, message: str) -> None:
    with pytest.raises(PermissionDenied, match=message):
        verify(SECRET, token, "get")


def test_signed_claims_with_a_bad_expiry_are_rejected() -> None:
    import base64
    import hashlib
    import hmac

    body = base64.urlsafe_b64encode(b'{"k":"get","exp":"never"}').rstrip(b"=").decode()
    mac = base64.urlsafe_b64encode(
        hmac.new(SECRET, body.encode(), hashlib.sha256).digest()[:20]).rstrip(b"=").decode()
    with pytest.raises(PermissionDenied, match="expired"):
        verify(SECRET, f"{body}.{mac}", "get")


@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(token: str) -> None:
    with pytest.raises(PermissionDenied):
        verify(SECRET, token, "get")
