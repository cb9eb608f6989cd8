"""Fixtures shared by the storage tests (the backends themselves come from tests/conftest.py)."""

from __future__ import annotations

import pytest

from tracklet.domain.records import Project
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts


@pytest.fixture
def project(storage: Storage) -> Project:
    """The project ``alice/p`` of a new user ``alice``, in ``storage``."""
    with storage.db.write() as conn:
        accounts.create_user(conn, "alice", admin=False)
        entity = accounts.ensure_entity(conn, "alice")
        return accounts.ensure_project(conn, entity, "p")
