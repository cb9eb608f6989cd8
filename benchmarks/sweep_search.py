"""Search quality of the sweep methods: bayes (optuna TPE) against random and grid on two
standard test functions with known minima, Branin (2-D) and Hartmann-6 (6-D).

Each method proposes exactly as the server's controller does
(:func:`tracklet.domain.sweeps.search.propose`, told every earlier run's metric); the figure
is the simple regret after N runs (best value found minus the known minimum), averaged over
seeds, and its ratio to random's in the same invocation. Grid runs the first N points of a
grid of the same size order (as ``run_cap: N`` would).

    python -m benchmarks.sweep_search [--runs 20 50] [--seeds 5] [--quick] [--no-readme]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.harness import update_readme
from tracklet.domain.sweeps.config import parse_sweep_config
from tracklet.domain.sweeps.search import BAYES_STARTUP_TRIALS, Trial, propose

Objective = Callable[[dict[str, Any]], float]

_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886],
                         [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650],
                         [4047, 8828, 8732, 5743, 1091, 381]])
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(p: dict[str, Any]) -> float:
    """Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887."""
    x1, x2 = p["x1"], p["x2"]
    b, c = 5.1 / (4 * math.pi ** 2), 5 / math.pi
    return float((x2 - b * x1 ** 2 + c * x1 - 6) ** 2
                 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)


def hartmann6(p: dict[str, Any]) -> float:
    """Hartmann-6 on [0, 1]^6; minimum -3.32237."""
    x = np.array([p[f"x{i}"] for i in range(1, 7)])
    inner = (_H6_A * (x - _H6_P) ** 2).sum(axis=1)
    return float(-(_H6_ALPHA * np.exp(-inner)).sum())


FUNCTIONS: dict[str, tuple[Objective, dict[str, tuple[float, float]], float, int]] = {
    # name: (function, bounds, known minimum, grid points per dimension)
    "Branin (2-D)": (branin, {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}, 0.397887, 8),
    "Hartmann-6 (6-D)": (hartmann6, {f"x{i}": (0.0, 1.0) for i in range(1, 7)}, -3.32237, 3),
}


def _config(method: str, bounds: dict[str, tuple[float, float]], per_dim: int) -> Any:
    params: dict[str, dict[str, Any]]
    if method == "grid":
        params = {k: {"values": [float(v) for v in np.linspace(lo, hi, per_dim)]}
                  for k, (lo, hi) in bounds.items()}
    else:
        params = {k: {"distribution": "uniform", "min": lo, "max": hi}
                  for k, (lo, hi) in bounds.items()}
    return parse_sweep_config({"method": method, "metric": {"name": "f", "goal": "minimize"},
                               "parameters": params})


def best_after(method: str, fn: Objective, bounds: dict[str, tuple[float, float]],
               per_dim: int, runs: int, seed: int) -> list[float]:
    """The best value found after each of ``runs`` runs."""
    spec = _config(method, bounds, per_dim)
    trials: list[Trial] = []
    best: list[float] = []
    for _ in range(runs):
        p = propose(spec, trials, seed)
        if p is None:
            break
        value = fn(p.values)
        trials.append(Trial(grid_index=p.grid_index, coordinates=p.coordinates, metric=value))
        best.append(min(value, best[-1]) if best else value)
    return best


def measure(runs: Sequence[int], seeds: int) -> tuple[str, float]:
    """The results table (markdown) and the seconds it took."""
    start = time.perf_counter()
    n_max = max(runs)
    lines = ["| function | runs | grid regret | random regret | bayes regret "
             "| bayes / random |", "|---|---:|---:|---:|---:|---:|"]
    for name, (fn, bounds, minimum, per_dim) in FUNCTIONS.items():
        curves = {m: [best_after(m, fn, bounds, per_dim, n_max, s) for s in range(seeds)]
                  for m in ("random", "bayes")}
        curves["grid"] = [best_after("grid", fn, bounds, per_dim, n_max, 0)]
        for n in runs:
            regret = {m: float(np.mean([c[min(n, len(c)) - 1] for c in cs])) - minimum
                      for m, cs in curves.items()}
            lines.append(f"| {name} | {n} | {regret['grid']:.4f} | {regret['random']:.4f} | "
                         f"{regret['bayes']:.4f} | {regret['bayes'] / regret['random']:.2f} |")
    return "\n".join(lines), time.perf_counter() - start


def main(argv: list[str]) -> int:
    """Run the comparison; record it in benchmarks/README.md unless --quick/--no-readme."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.sweep_search",
                                description=__doc__)
    p.add_argument("--runs", type=int, nargs="+", default=[20, 50])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-readme", action="store_true")
    args, _ = p.parse_known_args(argv)
    runs, seeds = ([10], 2) if args.quick else (args.runs, args.seeds)
    table, seconds = measure(runs, seeds)
    print(table)
    print(f"({seeds} seeds, {seconds:.0f} s)")
    if not (args.quick or args.no_readme):
        command = ("python -m benchmarks.sweep_search --runs "
                   + " ".join(map(str, runs)) + f" --seeds {seeds}")
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        update_readme("sweep-search", f"""### Sweep search quality (`{command}`)

Simple regret (best value found minus the known minimum; lower is better) after N runs, mean
over {seeds} seeds for random and bayes; grid is deterministic and runs its first N points
(8 x 8 for Branin, 3^6 for Hartmann-6). Bayes is optuna's multivariate TPE with
{BAYES_STARTUP_TRIALS} random start-up runs, as the server's controller runs it. {stamp}.

{table}
""")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
