"""Credentials: API keys (named, shown once, revocable), passwords and sign-in sessions.

Every change that takes a credential away (a key revoked, a session ended, a password
changed) bumps the auth version in the same transaction, so each server process's cache of
resolved credentials (``server/auth.py``) notices on its next request.

Passwords are hashed with argon2id (argon2-cffi's defaults): people choose them, so the
hash must be slow. API keys and session tokens are long random values and get the keyed
fast hash of :mod:`tracklet.domain.keys`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tracklet.domain.keys import (
    hash_api_key,
    hash_token,
    key_name,
    new_api_key,
    new_session_token,
)
from tracklet.domain.policy import Subject
from tracklet.domain.records import ApiKey, User
from tracklet.errors import InvalidInput, NotFound, Unauthenticated
from tracklet.storage.metadata import accounts, audit
from tracklet.storage.metadata import sessions as session_repo
from tracklet.storage.metadata import teams as team_repo

if TYPE_CHECKING:
    from tracklet.storage.facade import Storage

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_KEY_NAME_LENGTH = 64

_hasher = PasswordHasher()
# Verified when the user is unknown or has no password, so a refusal takes as long
# either way and does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("tracklet: no such user")


def _user(storage: Storage, username: str) -> User:
    with storage.db.read() as conn:
        user = accounts.get_user_by_name(conn, username)
    if user is None:
        raise NotFound(f"no user called {username!r}")
    return user


def validate_key_name(name: str) -> str:
    """``name`` stripped, or InvalidInput when empty or too long."""
    name = name.strip()
    if not name or len(name) > MAX_KEY_NAME_LENGTH or not name.isprintable():
        raise InvalidInput(f"a key name is 1 to {MAX_KEY_NAME_LENGTH} printable characters")
    return name


def create_api_key(storage: Storage, user: User, name: str) -> str:
    """A new key for ``user`` called ``name`` (unique among their keys); the key is
    returned once and only its keyed hash is stored."""
    key = new_api_key()
    with storage.db.write() as conn:
        accounts.add_api_key(conn, user.id, hash_api_key(storage.secret.pepper, key),
                             validate_key_name(name))
        audit.record(conn, user.username, "key.create", user.username, name)
    return key


def generate_api_key(storage: Storage, user: User, description: str | None) -> tuple[int, str]:
    """A new key for ``user`` named ``description`` (or the key's non-secret prefix), made
    unique among their keys; returns (id, key)."""
    key = new_api_key()
    base = validate_key_name(description) if description else key_name(key)
    key_hash = hash_api_key(storage.secret.pepper, key)
    with storage.db.write() as conn:
        accounts.add_api_key(conn, user.id, key_hash,
                             accounts.free_key_name(conn, user.id, base[:56]))
        key_id = accounts.key_id_of_hash(conn, key_hash)
        audit.record(conn, user.username, "key.create", user.username, f"key {key_id}")
    return key_id, key


def create_api_key_for(storage: Storage, username: str, name: str) -> str:
    """:func:`create_api_key` for the user called ``username`` (NotFound if none)."""
    return create_api_key(storage, _user(storage, username), name)


def list_api_keys(storage: Storage, username: str) -> list[ApiKey]:
    """The keys of ``username``, oldest first (names and dates, never secrets)."""
    user = _user(storage, username)
    with storage.db.read() as conn:
        return accounts.api_key_records(conn, user.id)


def revoke_api_key(storage: Storage, user: User, *, name: str | None = None,
                   key_id: int | None = None, actor: User | None = None) -> None:
    """Delete one of ``user``'s keys by name or id; refused by every server process from
    the next request on. NotFound if they have no such key. ``actor``: who revoked it, for
    the audit log (None: the command line)."""
    with storage.db.write() as conn:
        if not accounts.delete_api_key(conn, user.id, name=name, key_id=key_id):
            raise NotFound(f"{user.username!r} has no key "
                           f"{name if name is not None else key_id!r}")
        accounts.bump_auth_version(conn)
        audit.record(conn, actor.username if actor else None, "key.revoke", user.username,
                     name if name is not None else f"key {key_id}")


def revoke_api_key_for(storage: Storage, username: str, name: str) -> None:
    """:func:`revoke_api_key` of the key ``name`` of the user called ``username``."""
    revoke_api_key(storage, _user(storage, username), name=name)


def revoke_key_as(storage: Storage, actor: User, key_id: int) -> None:
    """Revoke key ``key_id`` on behalf of ``actor``: its owner or an admin (to anyone
    else the key does not exist)."""
    with storage.db.read() as conn:
        owner_id = accounts.key_owner(conn, key_id)
        owner = accounts.get_user(conn, owner_id) if owner_id is not None else None
    if owner is None or not (actor.admin or actor.id == owner.id):
        raise NotFound(f"no API key {key_id}")
    revoke_api_key(storage, owner, key_id=key_id, actor=actor)


def user_for_key(storage: Storage, key: str) -> User | None:
    """The user holding ``key``, or None."""
    with storage.db.read() as conn:
        return accounts.user_by_key_hash(conn, hash_api_key(storage.secret.pepper, key))


def with_grants(storage: Storage, user: User) -> Subject:
    """``user`` with the roles and project grants they hold (``domain.policy``)."""
    with storage.db.read() as conn:
        return Subject.of(user, team_repo.grants_of(conn, user))


def validate_password(password: str) -> str:
    """``password`` or InvalidInput when it is too short or too long."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"a password is {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} "
                           "characters")
    return password


def set_password(storage: Storage, username: str, password: str) -> None:
    """Set the password of ``username`` (argon2id) and end their sessions."""
    user = _user(storage, username)
    hashed = _hasher.hash(validate_password(password))
    with storage.db.write() as conn:
        accounts.set_password_hash(conn, user.id, hashed)
        session_repo.delete_user_sessions(conn, user.id)
        accounts.bump_auth_version(conn)
        audit.record(conn, None, "user.password", username)


def check_password(storage: Storage, username: str, password: str) -> User:
    """The user signing in with ``username`` and ``password``; Unauthenticated (the same
    for an unknown user, a user without a password and a wrong one) otherwise."""
    with storage.db.read() as conn:
        user = accounts.get_user_by_name(conn, username)
        stored = accounts.password_hash_of(conn, user.id) if user is not None else None
    try:
        ok = _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        raise Unauthenticated("wrong username or password")
    assert stored is not None
    if _hasher.check_needs_rehash(stored):
        with storage.db.write() as conn:
            accounts.set_password_hash(conn, user.id, _hasher.hash(password))
    return user


def start_session(storage: Storage, user: User, ttl_s: float) -> str:
    """A new session token for ``user`` (the cookie's value), valid for ``ttl_s``."""
    token = new_session_token()
    now = time.time()
    with storage.db.write() as conn:
        session_repo.purge_expired(conn, now)
        session_repo.create_session(conn, user.id, hash_token(storage.secret.pepper, token),
                                    now, now + ttl_s)
    return token


def session_user(storage: Storage, token: str) -> tuple[User, float] | None:
    """The user of a live session and its expiry time, or None."""
    with storage.db.read() as conn:
        return session_repo.session_user(conn, hash_token(storage.secret.pepper, token),
                                         time.time())


def end_session(storage: Storage, token: str) -> None:
    """End a session (no-op when it is unknown); every process refuses it from now on."""
    with storage.db.write() as conn:
        if session_repo.delete_session(conn, hash_token(storage.secret.pepper, token)):
            accounts.bump_auth_version(conn)


def auth_version(storage: Storage) -> str:
    """The current auth version (see :func:`tracklet.storage.metadata.accounts.auth_version`),
    read the cheapest way the database offers: it is read on every request."""
    value = storage.db.quick_read("SELECT value FROM server_settings WHERE key = ?",
                                  (accounts.AUTH_VERSION_SETTING,))
    return "" if value is None else str(value)

