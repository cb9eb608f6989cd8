"""Agent heartbeats with many agents on one sweep: how fast the server controller hands out
runs, against a floor measured in the same invocation at the same concurrency.

N agents (threads, one HTTP client each) register on one random sweep and each loops:
a heartbeat with no running run (answered with a ``run`` command: a proposal written under
the sweep's row lock), then a heartbeat reporting that run as running (answered ``[]``).
The floor is the cheapest authenticated GraphQL request (``viewer { id }``) sent by the
same threads. Every handed-out run name must be distinct.

    python -m benchmarks.sweep_heartbeat [--agents 32] [--cycles 20] [--db URL] [--quick]
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import yaml

from benchmarks.harness import (
    Table,
    command_line,
    parser,
    percentile,
    ratio,
    report,
    running_server,
    workdir,
)

UPSERT = """mutation U($config: String) { upsertSweep(input: {config: $config,
  entityName: "admin", projectName: "bench"}) { sweep { name } } }"""
AGENT = """mutation A($sweep: String!) { createAgent(input: {host: "bench", sweep: $sweep,
  entityName: "admin", projectName: "bench"}) { agent { id } } }"""
BEAT = """mutation H($id: ID!, $runState: JSONString) { agentHeartbeat(input: {id: $id,
  metrics: "{}", runState: $runState}) { commands } }"""
VIEWER = "query { viewer { id } }"


def _post(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if "errors" in body:
        raise RuntimeError(body["errors"])
    data: dict[str, Any] = body["data"]
    return data


def _threads(agents: int, work: Callable[[int], None]) -> float:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(agents)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def measure(url: str, key: str, agents: int, cycles: int) -> dict[str, Any]:
    """Latencies (s) of handing-out heartbeats and of the floor, and handouts per second."""
    clients = [httpx.Client(base_url=url, auth=("api", key), timeout=120)
               for _ in range(agents)]
    config = yaml.safe_dump({"method": "random", "metric": {"name": "loss"}, "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "layers": {"values": [1, 2, 3, 4]}}})
    sweep = _post(clients[0], UPSERT, {"config": config})["upsertSweep"]["sweep"]["name"]
    ids = [_post(c, AGENT, {"sweep": sweep})["createAgent"]["agent"]["id"] for c in clients]
    handout: list[float] = []
    floor: list[float] = []
    names: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def agent(i: int) -> None:
        try:
            for _ in range(cycles):
                t0 = time.perf_counter()
                data = _post(clients[i], BEAT, {"id": ids[i], "runState": "{}"})
                elapsed = time.perf_counter() - t0
                (command,) = json.loads(data["agentHeartbeat"]["commands"])
                _post(clients[i], BEAT, {"id": ids[i],
                                         "runState": json.dumps({command["run_id"]: True})})
                with lock:
                    handout.append(elapsed)
                    names.append(command["run_id"])
        except BaseException as exc:  # reported after the threads join
            errors.append(exc)

    def viewer(i: int) -> None:
        try:
            for _ in range(cycles):
                t0 = time.perf_counter()
                _post(clients[i], VIEWER, {})
                with lock:
                    floor.append(time.perf_counter() - t0)
        except BaseException as exc:
            errors.append(exc)

    floor_wall = _threads(agents, viewer)
    wall = _threads(agents, agent)
    for c in clients:
        c.close()
    if errors:
        raise errors[0]
    if len(set(names)) != agents * cycles:
        raise AssertionError("a run name was handed out twice")
    return {"handout": handout, "floor": floor, "rate": len(names) / wall,
            "floor_rate": len(floor) / floor_wall}


def main(argv: list[str]) -> int:
    """Run the measurement and record it unless --quick/--no-readme."""
    p = parser("benchmarks.sweep_heartbeat", __doc__ or "")
    p.add_argument("--agents", type=int, default=32)
    p.add_argument("--cycles", type=int, default=20)
    args = p.parse_args(argv)
    agents, cycles = (4, 3) if args.quick else (args.agents, args.cycles)
    with workdir() as base, running_server(args, base) as server:
        m = measure(server.url, server.key, agents, cycles)
    table = Table(f"{agents} agents x {cycles} runs each on one random sweep",
                  ["request", "p50 ms", "p99 ms", "per second", "p50 vs floor"])
    p50, f50 = percentile(m["handout"], 50), percentile(m["floor"], 50)
    p99, f99 = percentile(m["handout"], 99), percentile(m["floor"], 99)
    table.add("heartbeat handing out a run", (p50 or 0) * 1000, (p99 or 0) * 1000,
              m["rate"], ratio(p50, f50))
    table.add("floor: viewer { id }", (f50 or 0) * 1000, (f99 or 0) * 1000,
              m["floor_rate"], "1x")
    table.notes.append("per second: runs handed out (heartbeat row: each cycle is two "
                       "heartbeats) or floor requests answered, all agents together")
    report("sweep-heartbeat" + ("-" + args.db.split(":", 1)[0] if args.db else ""),
           "Sweep agent heartbeats", [table], command_line("benchmarks.sweep_heartbeat", argv),
           args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
