"""A real store (SQLite in a temporary folder, in-memory blobs) for ingest tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tracklet.config import Settings
from tracklet.domain.records import User
from tracklet.storage import Storage


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    store = Storage.open(Settings(data_dir=tmp_path, blobs="memory://"))
    yield store
    store.close()


@pytest.fixture
def user(storage: Storage) -> User:
    made, _key = storage.create_user("alice")
    return made
