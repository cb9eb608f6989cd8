"""What ``run.log()`` costs the training loop: the tracklet light client against the wandb
SDK 0.31, both logging online to the same freshly started ``tracklet server``.

Each client runs in its own subprocess (``init``, a warm-up, then ``--calls`` timed calls of
``run.log`` with 10 scalars, each timed with ``perf_counter_ns``, then ``finish()``), so
neither sees the other's threads. Reported per client: calls/s over the timed loop, p50 /
p99 / max latency of one call, and the time from ``finish()`` to every row being readable
through ``wandb.Api()``. A second table: one ``log()`` of a 1M-element float32 array
(tracklet: histogram + statistics, computed by the uploader thread; wandb:
``wandb.Histogram(x)``, computed in the call), logged before the scalar loop.

Run: ``python -m benchmarks.client_log [--calls N] [--quick] [--no-readme]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from benchmarks import harness

# The timed part, the same for both clients; each script sets `run`, `log`, `wrap` (how a
# 1M-element array is logged) and `floor` (None for the SDK) before it.
_TIMED = """
log = run.log
for i in range(1000):
    log({f"m{k}": i * 0.5 + k for k in range(10)})
ns = time.perf_counter_ns
x = np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32)
tlat = []
for _ in range(tensors):
    a = ns()
    log({"w": wrap(x)})
    tlat.append(ns() - a)
time.sleep(3)  # the arrays' backlog is digested before the scalar loop
rows = [{f"m{k}": i * 0.5 + k for k in range(10)} for i in range(calls)]
lat = []
t0 = ns()
for row in rows:
    a = ns()
    log(row)
    lat.append(ns() - a)
total = ns() - t0
rows = 1000 + calls + tensors
import wandb
api = wandb.Api(timeout=120)
path = f"{api.default_entity}/bench-client/{run.id}"
api.run(path)  # the reader's own start-up is not part of finish()
f0 = time.perf_counter()
run.finish()
finish_s = time.perf_counter() - f0
api.flush()  # the run object cached before finish() is stale
while api.run(path).lastHistoryStep != rows - 1:
    api.flush()
    time.sleep(0.02)
readable_s = time.perf_counter() - f0
result = {"lat": lat, "total": total, "tlat": tlat, "finish_s": finish_s,
          "readable_s": readable_s, "id": run.id, "rows": rows}
if floor is not None:
    result["floor"] = floor
print(json.dumps(result))
"""

TRACKLET = textwrap.dedent(
    """
    import json, sys, time, gc
    import numpy as np
    import tracklet
    calls, tensors, out_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    from collections import deque
    floor_q = deque()
    rows = [{f"m{k}": i * 0.5 + k for k in range(10)} for i in range(calls)]
    ns = time.perf_counter_ns
    floor = []
    for row in rows:
        a = ns()
        floor_q.append(dict(row))
        floor.append(ns() - a)
    del floor_q, rows
    run = tracklet.init("bench-client", dir=out_dir, config={"calls": calls})
    wrap = lambda x: x
    """
) + _TIMED

WANDB = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import wandb
    calls, tensors, out_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    run = wandb.init(project="bench-client", dir=out_dir, config={"calls": calls})
    wrap = wandb.Histogram
    floor = None
    """
) + _TIMED


def _run(script: str, server: harness.Server, work: Path, calls: int,
         tensors: int) -> dict[str, Any]:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("WANDB_")}
    env.update({"TRACKLET_BASE_URL": server.url, "TRACKLET_API_KEY": server.key,
                "TRACKLET_CONFIG_DIR": str(work / "tracklet-config"),
                "WANDB_BASE_URL": server.url, "WANDB_API_KEY": server.key,
                "WANDB_DIR": str(work), "WANDB_CONFIG_DIR": str(work / ".config"),
                "WANDB_CACHE_DIR": str(work / "cache"), "WANDB_DATA_DIR": str(work / "data"),
                "WANDB_ERROR_REPORTING": "false", "WANDB_SILENT": "true",
                "WANDB_DISABLE_GIT": "true", "NETRC": str(work / ".netrc"),
                "PYTHONPATH": str(harness.ROOT.parent / "src")})
    work.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", script, str(calls), str(tensors), str(work)],
                          capture_output=True, text=True, env=env, timeout=1800, cwd=work)
    if proc.returncode != 0:
        raise RuntimeError(f"client script failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _check_rows(api: Any, result: dict[str, Any]) -> None:
    """Every scalar row logged reads back (RuntimeError otherwise)."""
    path = f"admin/bench-client/{result['id']}"
    rows = sum(1 for _ in api.run(path).scan_history(keys=["m0"], page_size=10_000))
    if rows != result["rows"] - len(result["tlat"]):
        raise RuntimeError(f"{path}: {rows} rows read back, {result['rows']} logged")


def main(argv: list[str]) -> int:
    """Measure, print, and (unless --quick/--no-readme) record in benchmarks/README.md."""
    p = harness.parser("benchmarks.client_log", __doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=20_000, help="timed log() calls per client")
    p.add_argument("--tensors", type=int, default=20, help="1M-element arrays logged")
    args = p.parse_args(argv)
    calls = 2_000 if args.quick else args.calls
    tensors = 3 if args.quick else args.tensors
    results: dict[str, dict[str, Any]] = {}
    with harness.workdir(args.keep) as base:
        server = harness.start_server(base / "server", args.db, args.blobs)
        try:
            for name, script in (("tracklet", TRACKLET), ("wandb 0.31", WANDB)):
                results[name] = _run(script, server, base / name.split()[0], calls, tensors)
            api = harness.wandb_api(server, base / "api")
            for result in results.values():
                _check_rows(api, result)
        finally:
            server.stop()

    table = harness.Table(f"run.log() of 10 scalars, {calls:,} timed calls per client",
                          ["client", "calls/s", "p50 us", "p99 us", "max us",
                           "finish(), s", "finish() to readable, s"])
    rate = {}
    for name, r in results.items():
        lat = [v / 1000 for v in r["lat"]]
        rate[name] = len(lat) / (r["total"] / 1e9)
        table.add(name, rate[name], harness.percentile(lat, 50), harness.percentile(lat, 99),
                  max(lat), r["finish_s"], r["readable_s"])
    floor = [v / 1000 for v in results["tracklet"]["floor"]]
    table.add("floor: dict copy + deque append", len(floor) / (sum(floor) / 1e6),
              harness.percentile(floor, 50), harness.percentile(floor, 99), max(floor), None,
              None)
    table.notes.append("tracklet / wandb calls/s: "
                       + harness.ratio(rate["tracklet"], rate["wandb 0.31"]))
    tensor = harness.Table(f"log() of a 1M-element float32 array, {tensors} calls",
                           ["client", "p50 ms", "max ms"])
    for name, r in results.items():
        tl = [v / 1e6 for v in r["tlat"]]
        tensor.add(name + (" (histogram + stats)" if name == "tracklet"
                           else " (wandb.Histogram)"), harness.percentile(tl, 50), max(tl))
    intro = (
        "Issue 18's targets: >= 50x the wandb SDK's calls/s, p99 < 50 us, max < 1 ms, "
        "finish() to readable < 1 s for 10,000 steps. Both clients log online to the same "
        "server in the same invocation; the timed loop is a tight loop of log() calls, so "
        "the uploader thread's JSON encoding competes with it for the GIL and the calls/s "
        "(the mean) include that work, while p50/p99 are the call itself. max includes GC "
        "pauses, GIL hand-overs (5 ms switch interval) and the OS descheduling the process "
        "on this shared 2-core machine: the floor row (no thread, no I/O, measured in the "
        "tracklet process before init) shows what the machine alone does to max. The arrays "
        "are logged first (then 3 s of rest), so finish() measures the scalar backlog a "
        "tight loop leaves: the uploader thread yields the GIL to the training loop and "
        "catches up at finish()."
    )
    harness.report("client-log", "The light client's log() against the wandb SDK",
                   [table, tensor], harness.command_line("benchmarks.client_log", argv), args,
                   intro=intro)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
