"""UpsertBucket semantics: keyed create, partial updates, default entity and project."""

from __future__ import annotations

import pytest

from tracklet.domain.records import RunFields, User
from tracklet.errors import InvalidInput, NotFound
from tracklet.ingest.runs import UpsertRequest, upsert_run
from tracklet.storage import Storage


def test_retried_create_returns_the_same_run(storage: Storage, user: User) -> None:
    req = UpsertRequest(None, "same0001", "p", None, RunFields(tags=("a",)))
    first, inserted = upsert_run(storage, user, req)
    again, inserted_again = upsert_run(storage, user, req)
    assert (inserted, inserted_again) == (True, False)
    assert first.id == again.id


def test_null_fields_are_left_unchanged(storage: Storage, user: User) -> None:
    run, _ = upsert_run(storage, user, UpsertRequest(None, "part0001", "p", None, RunFields(
        tags=("t",), notes="n", group="g", job_type="j", display_name="d", config='{"a": 1}')))
    updated, _ = upsert_run(storage, user, UpsertRequest(
        None, "part0001", "p", None, RunFields(config='{"b": 2}')))
    assert (updated.tags, updated.notes, updated.group, updated.job_type, updated.display_name) \
        == (("t",), "n", "g", "j", "d")
    assert updated.config == '{"b": 2}', "config is replaced whole"
    by_id, _ = upsert_run(storage, user, UpsertRequest(run.id, None, None, None,
                                                       RunFields(tags=())))
    assert by_id.tags == () and by_id.notes == "n"


def test_defaults_entity_and_project(storage: Storage, user: User) -> None:
    run, _ = upsert_run(storage, user, UpsertRequest(None, None, None, None, RunFields()))
    assert (run.entity, run.project, run.state) == ("alice", "uncategorized", "running")
    assert len(run.name) == 8 and run.display_name


def test_state_pending_is_kept(storage: Storage, user: User) -> None:
    run, _ = upsert_run(storage, user, UpsertRequest(None, "pend0001", "p", None,
                                                     RunFields(state="pending")))
    assert run.state == "pending"


def test_refusals(storage: Storage, user: User) -> None:
    # Another's entity, or one that does not exist, is not found alike.
    with pytest.raises(NotFound, match="entity 'someone' not found"):
        upsert_run(storage, user, UpsertRequest(None, "x", "p", "someone", RunFields()))
    with pytest.raises(InvalidInput):
        upsert_run(storage, user, UpsertRequest(None, "bad/name", "p", None, RunFields()))
    with pytest.raises(NotFound):
        upsert_run(storage, user, UpsertRequest(99999, None, None, None, RunFields()))
