"""One sweep on a PostgreSQL deployment with two server processes: the controller keeps its
state in the database, so agents on either process share the grid with no point twice."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3_TEST_ENV, PostgresServer, S3Server
from tests.e2e.conftest import LiveServer, make_api, start_server
from tests.e2e.test_sweeps import GRID, Sweeper, _configs, _stop, _wait

pytestmark = [pytest.mark.postgresql, pytest.mark.s3, pytest.mark.xdist_group("team-backends")]


@pytest.fixture(scope="module")
def pair(postgres_server: PostgresServer, s3_server: S3Server,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LiveServer]]:
    db = postgres_server.create_database()
    bucket = s3_server.create_bucket()
    env = {**S3_TEST_ENV, "TRACKLET_S3_ENDPOINT_URL": s3_server.endpoint_url,
           "TRACKLET_SECRET_KEY": secrets.token_hex(32)}
    servers = [start_server(tmp_path_factory.mktemp(f"sweep-{name}"), env=env, db=db,
                            blobs=f"s3://{bucket}/tracklet", wait=False) for name in "ab"]
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
        postgres_server.drop_database(db)


def test_agents_on_two_server_processes_share_one_grid(
        pair: list[LiveServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = (Sweeper(server, tmp_path / name) for server, name in zip(pair, "ab", strict=True))
    sweep_id, _ = a.create(GRID)
    agents = [a.agent(sweep_id), b.agent(sweep_id)]
    try:
        for proc in agents:
            _wait(proc)
    finally:
        for proc in agents:
            _stop(proc)
    api: Any = make_api(pair[1], tmp_path / "api", monkeypatch)
    sweep = api.sweep(f"admin/hpo/{sweep_id}")
    assert _configs(sweep) == [(x, y) for x in (0, 1, 2) for y in (0, 5)]
    assert sweep.state == "FINISHED"
    agents_seen = sweep.agents()
    assert len(agents_seen) == 2
    assert sum(int(agent.totalRuns) for agent in agents_seen) == 6
