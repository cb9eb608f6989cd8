"""API keys: the format the wandb SDK accepts, generation and hashing."""

from __future__ import annotations

import hashlib
import re
import secrets

from tracklet.errors import InvalidInput

_BODY = re.compile(r"[A-Za-z0-9_-]{40,}")


def is_valid_api_key(key: str) -> bool:
    """True when the wandb SDK would accept ``key``: an optional prefix up to the first '-',
    then 40 or more of ``[A-Za-z0-9_-]``."""
    if not key or len(key) > 512:
        return False
    if _BODY.fullmatch(key):
        return True
    _, sep, body = key.partition("-")
    return bool(sep) and bool(_BODY.fullmatch(body))


def validate_api_key(key: str) -> str:
    """Return ``key`` or raise InvalidInput explaining the accepted format."""
    if not is_valid_api_key(key):
        raise InvalidInput(
            "API key must be an optional prefix ending in '-' followed by 40 or more "
            "characters of [A-Za-z0-9_-]"
        )
    return key


def new_api_key() -> str:
    """A fresh random key in the SDK's accepted format (``tlk-`` + 48 characters)."""
    return "tlk-" + secrets.token_urlsafe(36)


def hash_api_key(key: str) -> str:
    """The digest stored instead of the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()


_NAME_BODY_CHARS = 4


def key_name(key: str) -> str:
    """A short prefix that names a key without giving it away (shown as ``User.apiKeys``).

    ``prefix-`` plus the first four characters after it, or the first eight characters of a
    key without a prefix: at most 24 bits of a 240-bit or longer secret.
    """
    prefix, sep, body = key.partition("-")
    if sep and len(prefix) <= 32 and _BODY.fullmatch(body):
        return f"{prefix}-{body[:_NAME_BODY_CHARS]}"
    return key[:2 * _NAME_BODY_CHARS]
