"""Who may see and change what."""

from __future__ import annotations

from tracklet.domain.records import User
from tracklet.errors import PermissionDenied


def can_write(user: User, entity: str) -> bool:
    """A user writes to their own entity; admins write anywhere."""
    return user.admin or user.entity == entity


def can_read(user: User, entity: str) -> bool:
    """Reading follows writing until teams and sharing exist."""
    return can_write(user, entity)


def require_write(user: User, entity: str) -> None:
    """Raise PermissionDenied unless ``user`` may write to ``entity``."""
    if not can_write(user, entity):
        raise PermissionDenied(f"user {user.username!r} may not write to entity {entity!r}")


def require_read(user: User, entity: str) -> None:
    """Raise PermissionDenied unless ``user`` may read ``entity``."""
    if not can_read(user, entity):
        raise PermissionDenied(f"user {user.username!r} may not read entity {entity!r}")
