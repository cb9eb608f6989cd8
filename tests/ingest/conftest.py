"""Ingest tests run on the suite's ``storage`` (tests/conftest.py): every metadata backend,
blobs in memory."""

from __future__ import annotations

import pytest

from tracklet.domain.records import User
from tracklet.storage import Storage


@pytest.fixture
def user(storage: Storage) -> User:
    """The user ``alice``, owner of the runs and artifacts the test writes."""
    made, _key = storage.create_user("alice")
    return made
