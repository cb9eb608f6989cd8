"""Users, API keys, passwords, entities, projects and server-wide settings."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select

from tracklet.domain.records import ApiKey, Entity, Project, User
from tracklet.errors import Conflict, NotFound
from tracklet.storage.metadata.tables import (
    api_keys,
    entities,
    projects,
    server_settings,
    users,
)
from tracklet.storage.metadata.upsert import insert_missing, upsert_rows

#: ``api_keys.hash_scheme`` of keyed hashes, and of plain SHA-256 ones from before 0010.
HMAC_SCHEME = "hmac"
LEGACY_SCHEME = "sha256"
AUTH_VERSION_SETTING = "auth_version"

USER_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.email,
    users.c.admin,
    users.c.entity_id,
    entities.c.name.label("entity"),
    users.c.created_at,
    users.c.service_account,
)


def user_record(row: Any) -> User:
    """A User from a row selected with :data:`USER_COLUMNS`."""
    return User(**row._mapping)


def get_setting(conn: Connection, key: str) -> str | None:
    """A server-wide setting stored in the database (shared by every server process)."""
    return conn.execute(
        select(server_settings.c.value).where(server_settings.c.key == key)
    ).scalar_one_or_none()


def set_setting(conn: Connection, key: str, value: str) -> None:
    """Store a server-wide setting, replacing any previous value."""
    conn.execute(server_settings.delete().where(server_settings.c.key == key))
    conn.execute(server_settings.insert().values(key=key, value=value))


def setdefault_setting(conn: Connection, key: str, value: str) -> str:
    """The stored value of ``key``, storing ``value`` first if there is none (race-free)."""
    insert_missing(conn, server_settings, {"key": key, "value": value}, keys=("key",))
    stored = get_setting(conn, key)
    assert stored is not None
    return stored


def count_users(conn: Connection) -> int:
    """How many users exist."""
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def ensure_entity(conn: Connection, name: str, is_team: bool = False) -> Entity:
    """The entity called ``name``, created when missing."""
    row = conn.execute(select(entities).where(entities.c.name == name)).first()
    if row is None:
        insert_missing(conn, entities, {"name": name, "is_team": is_team,
                                        "created_at": time.time()}, keys=("name",))
        row = conn.execute(select(entities).where(entities.c.name == name)).one()
    return Entity(**row._mapping)


def get_entity(conn: Connection, name: str) -> Entity:
    """The entity called ``name``; NotFound when missing."""
    row = conn.execute(select(entities).where(entities.c.name == name)).first()
    if row is None:
        raise NotFound(f"entity {name!r} not found")
    return Entity(**row._mapping)


def create_user(
    conn: Connection, username: str, admin: bool, email: str | None = None,
    service_account: bool = False,
) -> User:
    """A new user with an entity of the same name; Conflict if the username is taken, or
    the name is a team's or another user's entity."""
    if conn.execute(select(users.c.id).where(users.c.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    entity = ensure_entity(conn, username)
    if entity.is_team or conn.execute(
            select(users.c.id).where(users.c.entity_id == entity.id)).first():
        raise Conflict(f"the name {username!r} is taken by a team or another user")
    created = insert_missing(conn, users, {"username": username, "email": email, "admin": admin,
                                           "entity_id": entity.id, "created_at": time.time(),
                                           "service_account": service_account},
                             keys=("username",))
    if not created:  # a concurrent transaction created it first
        raise Conflict(f"user {username!r} already exists")
    user = get_user_by_name(conn, username)
    assert user is not None
    return user


def get_user(conn: Connection, user_id: int) -> User:
    """The user with primary key ``user_id``."""
    row = conn.execute(
        select(*USER_COLUMNS)
        .join(entities, entities.c.id == users.c.entity_id)
        .where(users.c.id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"user {user_id} not found")
    return user_record(row)


def get_user_by_name(conn: Connection, username: str) -> User | None:
    """The user called ``username``, or None."""
    row = conn.execute(
        select(*USER_COLUMNS)
        .join(entities, entities.c.id == users.c.entity_id)
        .where(users.c.username == username)
    ).first()
    return user_record(row) if row else None


def user_of_entity(conn: Connection, entity_id: int) -> User | None:
    """The user whose own entity this is (None for team entities)."""
    row = conn.execute(
        select(*USER_COLUMNS)
        .join(entities, entities.c.id == users.c.entity_id)
        .where(users.c.entity_id == entity_id)
        .order_by(users.c.id)
        .limit(1)
    ).first()
    return user_record(row) if row else None


def add_api_key(conn: Connection, user_id: int, key_hash: str, name: str) -> None:
    """Register a key (by its keyed hash, :func:`tracklet.domain.keys.hash_api_key`) for a
    user under ``name``; registering the same key again is a no-op. Conflict if another
    user holds it, or this user has another key of that name."""
    owner = conn.execute(
        select(api_keys.c.user_id).where(api_keys.c.key_hash == key_hash)
    ).scalar_one_or_none()
    if owner is None:
        if conn.execute(select(api_keys.c.id).where(api_keys.c.user_id == user_id,
                                                    api_keys.c.name == name)).first():
            raise Conflict(f"there is already a key named {name!r}")
        insert_missing(conn, api_keys, {"user_id": user_id, "key_hash": key_hash,
                                        "created_at": time.time(), "name": name,
                                        "hash_scheme": HMAC_SCHEME},
                       keys=("key_hash",))
        owner = conn.execute(
            select(api_keys.c.user_id).where(api_keys.c.key_hash == key_hash)
        ).scalar_one()
    if owner != user_id:
        raise Conflict("that API key is already registered to another user")


def free_key_name(conn: Connection, user_id: int, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever this user has no key called yet."""
    taken = set(conn.execute(select(api_keys.c.name).where(
        api_keys.c.user_id == user_id, api_keys.c.name.startswith(base, autoescape=True)
    )).scalars())
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def list_api_keys(conn: Connection, user_id: int) -> list[tuple[int, str]]:
    """(id, name) of a user's keys, oldest first."""
    return [(k.id, k.name) for k in api_key_records(conn, user_id)]


def api_key_records(conn: Connection, user_id: int) -> list[ApiKey]:
    """A user's keys (never their secrets), oldest first."""
    rows = conn.execute(select(api_keys.c.id, api_keys.c.name, api_keys.c.created_at)
                        .where(api_keys.c.user_id == user_id).order_by(api_keys.c.id))
    return [ApiKey(int(r.id), r.name, float(r.created_at)) for r in rows]


def key_id_of_hash(conn: Connection, key_hash: str) -> int:
    """The id of the key row with this hash (which must exist)."""
    return int(conn.execute(
        select(api_keys.c.id).where(api_keys.c.key_hash == key_hash)).scalar_one())


def key_owner(conn: Connection, key_id: int) -> int | None:
    """The id of the user holding key ``key_id``, or None."""
    owner = conn.execute(
        select(api_keys.c.user_id).where(api_keys.c.id == key_id)
    ).scalar_one_or_none()
    return None if owner is None else int(owner)


def delete_api_key(conn: Connection, user_id: int, *, name: str | None = None,
                   key_id: int | None = None) -> bool:
    """Delete one of a user's keys, by name or id; True if there was one. Call
    :func:`bump_auth_version` in the same transaction so every process drops it at once."""
    where = [api_keys.c.user_id == user_id]
    if name is not None:
        where.append(api_keys.c.name == name)
    if key_id is not None:
        where.append(api_keys.c.id == key_id)
    if len(where) == 1:
        raise ValueError("name or key_id is required")
    return bool(conn.execute(api_keys.delete().where(*where)).rowcount)


def user_by_key_hash(conn: Connection, key_hash: str) -> User | None:
    """The user owning the key with this keyed hash, or None."""
    row = conn.execute(
        select(*USER_COLUMNS)
        .join(entities, entities.c.id == users.c.entity_id)
        .join(api_keys, api_keys.c.user_id == users.c.id)
        .where(api_keys.c.key_hash == key_hash, api_keys.c.hash_scheme == HMAC_SCHEME)
    ).first()
    return user_record(row) if row else None


def rekey_legacy_hashes(conn: Connection, rekey: Callable[[str], str]) -> int:
    """Replace every plain SHA-256 key hash (written before migration 0010) with
    ``rekey(old_hash)``; returns how many rows changed. Safe beside another process doing
    the same: a row is only rewritten while it still has the old scheme."""
    rows = conn.execute(select(api_keys.c.id, api_keys.c.key_hash)
                        .where(api_keys.c.hash_scheme == LEGACY_SCHEME)).all()
    changed = 0
    for row in rows:
        changed += conn.execute(
            api_keys.update()
            .where(api_keys.c.id == row.id, api_keys.c.hash_scheme == LEGACY_SCHEME)
            .values(key_hash=rekey(row.key_hash), hash_scheme=HMAC_SCHEME)
        ).rowcount
    return changed


def set_password_hash(conn: Connection, user_id: int, password_hash: str | None) -> None:
    """Store a user's password hash (None: the user signs in with an API key only)."""
    conn.execute(users.update().where(users.c.id == user_id)
                 .values(password_hash=password_hash))


def password_hash_of(conn: Connection, user_id: int) -> str | None:
    """The stored password hash of a user, or None."""
    value = conn.execute(
        select(users.c.password_hash).where(users.c.id == user_id)
    ).scalar_one_or_none()
    return None if value is None else str(value)


def auth_version(conn: Connection) -> str:
    """A value that changes whenever a credential stops being valid (a key revoked, a
    session ended, a password changed); processes compare it to drop cached credentials."""
    return get_setting(conn, AUTH_VERSION_SETTING) or ""


def set_admin(conn: Connection, user_id: int, admin: bool) -> None:
    """Make a user a server admin, or not."""
    conn.execute(users.update().where(users.c.id == user_id).values(admin=admin))


def count_admins(conn: Connection, besides: int | None = None) -> int:
    """How many server admins there are (not counting user ``besides``)."""
    q = select(func.count()).select_from(users).where(users.c.admin.is_(True))
    if besides is not None:
        q = q.where(users.c.id != besides)
    return int(conn.execute(q).scalar_one())


def bump_auth_version(conn: Connection) -> None:
    """Change :func:`auth_version` (to a random value: concurrent bumps never write the
    same value, so none of them goes unnoticed)."""
    upsert_rows(conn, server_settings, [{"key": AUTH_VERSION_SETTING,
                                         "value": secrets.token_hex(8)}],
                keys=("key",), update=("value",))


_PROJECT_COLS = (
    projects.c.id,
    projects.c.entity_id,
    entities.c.name.label("entity"),
    projects.c.name,
    projects.c.description,
    projects.c.created_at,
    projects.c.updated_at,
    projects.c.access,
)


def _project(row: Any) -> Project:
    return Project(**row._mapping)


def find_project(conn: Connection, entity: str, name: str) -> Project | None:
    """The project ``entity/name``, or None."""
    row = conn.execute(_find_project_query(), {"entity": entity, "name": name}).first()
    return _project(row) if row else None


@functools.cache
def _find_project_query() -> Select[Any]:
    # Built once: nearly every GraphQL request starts with this lookup.
    return (select(*_PROJECT_COLS)
            .join(entities, entities.c.id == projects.c.entity_id)
            .where(entities.c.name == bindparam("entity"), projects.c.name == bindparam("name")))


def get_project_by_id(conn: Connection, project_id: int) -> Project:
    """The project with this primary key."""
    row = conn.execute(
        select(*_PROJECT_COLS)
        .join(entities, entities.c.id == projects.c.entity_id)
        .where(projects.c.id == project_id)
    ).first()
    if row is None:
        raise NotFound(f"project {project_id} not found")
    return _project(row)


def ensure_project(conn: Connection, entity: Entity, name: str) -> Project:
    """The project ``entity/name``, created when missing."""
    found = find_project(conn, entity.name, name)
    if found is not None:
        return found
    now = time.time()
    insert_missing(conn, projects, {"entity_id": entity.id, "name": name, "created_at": now,
                                    "updated_at": now}, keys=("entity_id", "name"))
    found = find_project(conn, entity.name, name)
    assert found is not None
    return found


def list_projects(
    conn: Connection, entity: str, after_id: int | None = None, limit: int = 100
) -> list[Project]:
    """Projects of an entity, oldest first, paged by primary key."""
    q = (
        select(*_PROJECT_COLS)
        .join(entities, entities.c.id == projects.c.entity_id)
        .where(entities.c.name == entity)
        .order_by(projects.c.id)
        .limit(limit)
    )
    if after_id is not None:
        q = q.where(projects.c.id > after_id)
    return [_project(r) for r in conn.execute(q)]


def set_project_description(conn: Connection, project_id: int, description: str) -> None:
    """Replace a project's description."""
    conn.execute(projects.update().where(projects.c.id == project_id)
                 .values(description=description, updated_at=time.time()))
