"""API keys and session tokens: the format the wandb SDK accepts, generation and hashing.

Keys are stored as ``HMAC-SHA256(pepper, SHA-256(key))``, the pepper a server secret kept
out of the database (:mod:`tracklet.storage.secret`). A keyed fast hash rather than a
salted slow one (argon2, used for passwords): a key is 288 random bits, so there is
nothing to guess and a slow hash buys no safety, while it would cost every request
milliseconds of CPU and rule out the lookup by hash. The pepper makes a copy of the
database useless for checking candidate keys. The inner SHA-256 is the digest stored before
the pepper existed, so those rows are re-keyed without knowing the keys
(:func:`rekey_legacy_hash`).
"""

from __future__ import annotations

import hashlib
import hmac
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


def legacy_key_hash(key: str) -> str:
    """The digest stored for a key before keyed hashes (plain SHA-256, hex)."""
    return hashlib.sha256(key.encode()).hexdigest()


def rekey_legacy_hash(pepper: bytes, legacy_hex: str) -> str:
    """The keyed hash of the key whose :func:`legacy_key_hash` is ``legacy_hex``."""
    return hmac.digest(pepper, bytes.fromhex(legacy_hex), "sha256").hex()


def hash_api_key(pepper: bytes, key: str) -> str:
    """The digest stored instead of the key itself."""
    return rekey_legacy_hash(pepper, legacy_key_hash(key))


def new_session_token() -> str:
    """A fresh random session token (the cookie's value): 256 bits."""
    return secrets.token_urlsafe(32)


def hash_token(pepper: bytes, token: str) -> str:
    """The digest stored instead of a session token."""
    return hmac.digest(pepper, b"session\0" + token.encode(), "sha256").hex()


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
