"""The real wandb SDK reading one metric back: ``wandb.Api().run(path).scan_history``.

Run in a subprocess per server (``python -m benchmarks.sdk_read URL KEY PROJECT TARGET OTHER
STEPS [--count-requests]``) so each measurement gets a fresh ``wandb`` with its own wandb-core
service, pointed at that server only. One untimed scan of ``OTHER`` first (starts wandb-core,
warms both sides), then ``TARGET`` is scanned ``--repeats`` times (3), each timed from
``scan_history(...)`` to the last row and checked exactly against the generated data;
``api.run(path)`` is outside the timing. Prints one JSON line with the median time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import harness, read

PAGE = 1_000


@dataclass
class Endpoint:
    """A server's URL and API key (what harness.wandb_api needs)."""

    url: str
    key: str


def scan(api: Any, path: str, key: str, page: int = PAGE) -> tuple[float, float, list[Any]]:
    """(seconds to the scan object, seconds to the last row, rows) of one scan_history."""
    run = api.run(path)
    t0 = time.perf_counter()
    it = run.scan_history(keys=[key], page_size=page)
    t1 = time.perf_counter()
    rows = list(it)
    return t1 - t0, time.perf_counter() - t0, rows


def counts(url: str) -> Counter[str]:
    """The requests the null responder at ``url`` has seen so far, by kind."""
    import httpx

    return Counter(httpx.get(f"{url}/null-stats", timeout=10).json())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.sdk_read``."""
    p = argparse.ArgumentParser(prog="benchmarks.sdk_read")
    for name in ("url", "key", "project", "target", "other"):
        p.add_argument(name)
    p.add_argument("steps", type=int)
    p.add_argument("--metric", default=read.METRIC)
    p.add_argument("--count-requests", action="store_true",
                   help="the server is the null responder: report the requests the timed "
                        "read sent (its GET /null-stats before and after)")
    p.add_argument("--repeats", type=int, default=3, help="timed scans of TARGET")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sdk-read-") as tmp:
        api = harness.wandb_api(Endpoint(args.url, args.key), Path(tmp))
        prefix = f"{harness.ENTITY}/{args.project}/"
        scan(api, prefix + args.other, args.metric)
        times, setups, problem, sent = [], [], None, Counter[str]()
        for _ in range(args.repeats):
            before = counts(args.url) if args.count_requests else Counter()
            setup_s, secs, rows = scan(api, prefix + args.target, args.metric)
            sent = counts(args.url) - before if args.count_requests else Counter()
            times.append(secs)
            setups.append(setup_s)
            problem = problem or read.check_scan(rows, args.steps, [args.metric])
    print(json.dumps({"seconds": statistics.median(times), "all_seconds": times,
                      "setup_seconds": statistics.median(setups), "rows": len(rows),
                      "problem": problem, "requests": dict(sent)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
