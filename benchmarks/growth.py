"""Growth: every workload at x1, x10 and x100, to show how cost grows with size.

- load: 64 concurrent runs streaming ``20,000 x scale`` lines (200k .. 20M points) into an
  empty server: does sustained throughput hold as the history table grows?
- read: the scan, chart and runs-listing queries of ``benchmarks.read`` at each scale
  (x100 is the size named in the issue: 1M-step scan, 100 runs x 100k steps, 10k runs).
- peers: tracklet vs MLflow and Trackio at x1 and x10 (``--peer-scales`` to change: at x100
  MLflow alone would need about an hour here).

Each figure is still a ratio against its floor or peer measured at the same scale.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from benchmarks import data, harness, load, peers, read

LOAD_RUNS = 64


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.growth``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = harness.parser("benchmarks.growth", "every workload at x1, x10, x100")
    p.add_argument("--scales", type=int, nargs="*", choices=harness.SCALES,
                   default=list(harness.SCALES))
    p.add_argument("--peer-scales", type=int, nargs="*", choices=harness.SCALES,
                   default=[1, 10])
    p.add_argument("--only", nargs="*", choices=["load", "read", "peers"],
                   default=["load", "read", "peers"])
    args = p.parse_args(argv)
    scales = [1] if args.quick else args.scales
    tables: list[harness.Table] = []
    with harness.workdir(args.keep) as base:
        if "load" in args.only:
            t = load.new_table(f"growth/load: {LOAD_RUNS} runs, {load.LINES_PER_REQUEST} lines "
                               "a request", ["scale"])
            for s in scales:
                total = load.QUICK_LINES if args.quick else load.BASE_LINES * s
                res, floor_s, ok, detail = load.measure_level(
                    args, base / f"load-x{s}", LOAD_RUNS, total, load.LINES_PER_REQUEST)
                load.add_row(t, res, floor_s, ok, detail, f"x{s}")
            tables.append(t)
        if "read" in args.only:
            t = harness.Table("growth/read", ["scale", "query", "tracklet ms", "points/s",
                                              "floor ms", "vs floor", "exact"])
            for s in scales:
                part = harness.Table("", t.columns[1:])
                scan_steps, chart_runs, chart_steps, n_runs = read.sizes(s, args.quick)
                read.measure_scan(args, base / f"scan-x{s}", scan_steps, part)
                read.measure_chart(args, base / f"chart-x{s}", chart_runs, chart_steps, part)
                read.measure_runs(args, base / f"runs-x{s}", n_runs, part)
                t.rows += [[f"x{s}", *r] for r in part.rows]
            tables.append(t)
        # --quick leaves peers out: `python -m benchmarks.peers --quick` covers them.
        if "peers" in args.only and not args.quick:
            t = harness.Table("growth/peers", ["scale", "system", "points", "ingest points/s",
                                               "tracklet ingest is", "read points/s",
                                               "tracklet read is"])
            for s in ([1] if args.quick else args.peer_scales):
                steps = peers.QUICK_STEPS if args.quick else peers.BASE_STEPS * s
                mine, _, _ = peers.run_tracklet(args, base / f"peers-x{s}", peers.RUNS, steps)
                others = [peers.run_mlflow(base / f"peers-x{s}", peers.RUNS, steps),
                          peers.run_trackio(base / f"peers-x{s}", peers.RUNS, steps)]
                for o in [mine, *others]:
                    t.add(f"x{s}", o.name if not o.error else f"{o.name} (could not run: "
                          f"{o.error[:120]})", peers.RUNS * steps * data.N_METRICS,
                          o.ingest_pps, harness.ratio(mine.ingest_pps, o.ingest_pps),
                          o.read_pps, harness.ratio(mine.read_pps, o.read_pps))
            tables.append(t)
    # A run of some workloads (--only) keeps the README sections of the others.
    section = "growth" if set(args.only) == {"load", "read", "peers"} else (
        "growth-" + "-".join(sorted(args.only)))
    harness.report(section, f"growth: {', '.join(args.only)} at x1, x10, x100", tables,
                   harness.command_line("benchmarks.growth", argv), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
