"""The cost benchmark's attacks are refused by a live server with the limit each one hits,
answer no 5xx under concurrent attack, and another user is answered meanwhile (timings are
the benchmark's to report: a shared test machine cannot hold a latency bound)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.cost import ATTACKER, VICTIM, measure, setup

from tracklet import testing


def test_attacks_are_refused_by_their_limits(tmp_path: Path) -> None:
    server = testing.start_server(tmp_path / "server", env={"TRACKLET_LOG_LEVEL": "warning"})
    try:
        storage = server.storage()
        try:
            keys = {who: storage.create_user(who)[1] for who in (VICTIM, ATTACKER)}
        finally:
            storage.close()
        setup(server.url, keys)
        got = measure(server.url, keys, samples=8, attackers=1)
    finally:
        server.stop()
    reasons = {name: reason for name, (_times, reason) in got["refused"].items()}
    assert reasons == {
        "nested runs{project{runs{...}}} x5":
            "the operation is nested 25 fields deep, over the limit of 15 (graphql_max_depth)",
        "30 aliases of historyKeys, 1,000-key run":
            "the operation has 30 aliased fields, over the limit of 10 (graphql_max_aliases)",
        "200 KB document": "HTTP 413"}
    assert got["attack_5xx"] == 0
    assert all(len(times) == 8 for times in got["victim"].values())
    assert got["rates"]["1 attacker connection sending the three attacks back to back"] > 0
    # The server's log holds no line per refused document (they are the caller's errors).
    assert "GraphQLError" not in (tmp_path / "server" / "server.log").read_text()
