"""Users, API keys, entities, projects and server-wide settings."""

from __future__ import annotations

import functools
import time
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select

from tracklet.domain.records import Entity, Project, User
from tracklet.errors import Conflict, NotFound
from tracklet.storage.metadata.tables import (
    api_keys,
    entities,
    projects,
    server_settings,
    users,
)
from tracklet.storage.metadata.upsert import insert_missing

_USER_COLS = (
    users.c.id,
    users.c.username,
    users.c.email,
    users.c.admin,
    users.c.entity_id,
    entities.c.name.label("entity"),
    users.c.created_at,
)


def _user(row: Any) -> User:
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
    conn: Connection, username: str, admin: bool, email: str | None = None
) -> User:
    """A new user with an entity of the same name; Conflict if the username is taken."""
    if conn.execute(select(users.c.id).where(users.c.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    entity = ensure_entity(conn, username)
    created = insert_missing(conn, users, {"username": username, "email": email, "admin": admin,
                                           "entity_id": entity.id, "created_at": time.time()},
                             keys=("username",))
    if not created:  # a concurrent transaction created it first
        raise Conflict(f"user {username!r} already exists")
    user = get_user_by_name(conn, username)
    assert user is not None
    return user


def get_user(conn: Connection, user_id: int) -> User:
    """The user with primary key ``user_id``."""
    row = conn.execute(
        select(*_USER_COLS)
        .join(entities, entities.c.id == users.c.entity_id)
        .where(users.c.id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"user {user_id} not found")
    return _user(row)


def get_user_by_name(conn: Connection, username: str) -> User | None:
    """The user called ``username``, or None."""
    row = conn.execute(
        select(*_USER_COLS)
        .join(entities, entities.c.id == users.c.entity_id)
        .where(users.c.username == username)
    ).first()
    return _user(row) if row else None


def user_of_entity(conn: Connection, entity_id: int) -> User | None:
    """The user whose own entity this is (None for team entities)."""
    row = conn.execute(
        select(*_USER_COLS)
        .join(entities, entities.c.id == users.c.entity_id)
        .where(users.c.entity_id == entity_id)
        .order_by(users.c.id)
        .limit(1)
    ).first()
    return _user(row) if row else None


def add_api_key(conn: Connection, user_id: int, key_hash: str, name: str | None = None) -> None:
    """Register a key (by its hash, with a display ``name``) for a user; Conflict if another
    user holds it."""
    owner = conn.execute(
        select(api_keys.c.user_id).where(api_keys.c.key_hash == key_hash)
    ).scalar_one_or_none()
    if owner is None:
        insert_missing(conn, api_keys, {"user_id": user_id, "key_hash": key_hash,
                                        "created_at": time.time(), "name": name},
                       keys=("key_hash",))
        owner = conn.execute(
            select(api_keys.c.user_id).where(api_keys.c.key_hash == key_hash)
        ).scalar_one()
    if owner != user_id:
        raise Conflict("that API key is already registered to another user")


def list_api_keys(conn: Connection, user_id: int) -> list[tuple[int, str]]:
    """(id, display name) of a user's keys, oldest first; unnamed ones are ``key-<id>``."""
    rows = conn.execute(select(api_keys.c.id, api_keys.c.name)
                        .where(api_keys.c.user_id == user_id).order_by(api_keys.c.id))
    return [(int(r.id), r.name or f"key-{r.id}") for r in rows]


def user_by_key_hash(conn: Connection, key_hash: str) -> User | None:
    """The user owning the key with this hash, or None."""
    row = conn.execute(
        select(*_USER_COLS)
        .join(entities, entities.c.id == users.c.entity_id)
        .join(api_keys, api_keys.c.user_id == users.c.id)
        .where(api_keys.c.key_hash == key_hash)
    ).first()
    return _user(row) if row else None


_PROJECT_COLS = (
    projects.c.id,
    projects.c.entity_id,
    entities.c.name.label("entity"),
    projects.c.name,
    projects.c.description,
    projects.c.created_at,
    projects.c.updated_at,
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
