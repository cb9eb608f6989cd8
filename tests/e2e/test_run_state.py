"""``Run.update_state`` from the public API: requeue (pending) and give up (failed)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import wandb

from tests.e2e.conftest import LiveServer
from tests.e2e.storage_view import opened
from tracklet.storage.metadata import runs as run_repo


def _stored_state(server: LiveServer, path: str) -> str:
    entity, project, name = path.split("/")
    with opened(server) as storage, storage.db.read() as conn:
        run = run_repo.find_run_by_path(conn, entity, project, name)
        assert run is not None
        return run.state


def test_update_state_moves_a_run_and_refuses_bad_transitions(api: Any,
                                                              live_server: LiveServer) -> None:
    assert {"name": "UPDATE_RUN_STATE", "isEnabled": True} in api._service_api.execute_graphql(
        "query { serverInfo { features { name isEnabled } } }")["serverInfo"]["features"]
    seed = api.create_run(project="states")
    path = f"{seed.entity}/{seed.project}/{seed.id}"
    run = api.run(path)
    start = run.state
    assert run.update_state("failed") is True and run.state == "failed"
    assert api.run(path).state == "failed" == _stored_state(live_server, path)
    with pytest.raises(wandb.Error, match="invalid state transition from 'failed' to 'failed'"):
        run.update_state("failed")
    assert run.update_state("pending") is True
    assert api.run(path).state == "pending" == _stored_state(live_server, path)
    with pytest.raises(wandb.Error, match="invalid state 'finished'"):
        run.update_state("finished")
    # Refused changes left the stored state alone.
    assert _stored_state(live_server, path) == "pending"
    assert start in ("running", "pending")


DELETE = "mutation D($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }"


def test_deleting_again_succeeds_and_ids_are_not_reused(api: Any,
                                                       live_server: LiveServer) -> None:
    seed = api.create_run(project="deletes")
    path = f"{seed.entity}/{seed.project}/{seed.id}"
    run = api.run(path)
    gone_id = run.storage_id
    run.delete()
    run.delete(delete_artifacts=True)  # a retry or a stale object: answered like the first
    newer = api.create_run(project="deletes")
    newer_run = api.run(f"{newer.entity}/{newer.project}/{newer.id}")
    assert newer_run.storage_id != gone_id
    # The stale id still names the deleted run, never the new one.
    run.delete()
    assert api.run(f"{newer.entity}/{newer.project}/{newer.id}").id == newer.id
    other_key = "local-" + "del0" * 11
    with opened(live_server) as storage:
        storage.create_user("deleter", key=other_key)
    response = httpx.post(f"{live_server.url}/graphql", auth=("api", other_key), timeout=30,
                          json={"query": DELETE, "variables": {"id": gone_id}})
    assert response.status_code == 404  # refused as if missing
    assert "not found" in response.json()["errors"][0]["message"]
