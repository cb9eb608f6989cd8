"""W1: what logging to a live tracklet server costs a training script, against offline mode.

The same script (the wandb SDK logging 10 metrics x 10,000 steps, then ``finish()``) runs,
interleaved, in three ways in the same session:

* ``WANDB_MODE=offline``: the floor, the SDK only writes its local log;
* online against ``benchmarks/null_responder.py``, a peer that answers the protocol and stores
  nothing: what the SDK itself spends on being online;
* online against a freshly started ``tracklet server`` (SQLite, local blobs).

Reported:

* the median wall time of ``init -> log x 10,000 -> finish`` in each mode; tracklet over
  offline (the W1 target: <= 1.10) and tracklet over the null responder (tracklet's own share);
* the server's CPU seconds (utime + stime from ``/proc/<pid>/stat``) per online run;
* the server's peak resident memory (``VmHWM`` in ``/proc/<pid>/status``).

Run: ``python -m benchmarks.w1_sdk_online_vs_offline [--repeats N] [--steps N]``. The result
table replaces the latest W1 block of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from tracklet import testing

ROOT = Path(__file__).resolve().parent
KEY = "bench-" + "b" * 44

SCRIPT = textwrap.dedent(
    """
    import sys, time, wandb
    steps = int(sys.argv[1])
    t0 = time.perf_counter()
    run = wandb.init(project="w1", config={"steps": steps})
    for i in range(steps):
        run.log({f"m{k}": (i * (k + 1)) % 997 / 997.0 for k in range(10)})
    run.finish()
    print("ELAPSED", time.perf_counter() - t0)
    """
)


def cpu_seconds(server: testing.ServerProcess) -> float:
    """utime + stime of the server process so far."""
    fields = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(server: testing.ServerProcess) -> float:
    """VmHWM of the server process, in MiB."""
    for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def start_server(data_dir: Path, null: bool = False) -> testing.ServerProcess:
    """``tracklet server`` on a fresh data folder, or the null responder when ``null``."""
    if not null:
        # Compaction off: the row count below reads the live tier, which compaction of
        # finished runs empties into Parquet exports.
        return testing.start_server(data_dir, key=KEY, env={
            "TRACKLET_LOG_LEVEL": "warning", "TRACKLET_HISTORY_COMPACTION_INTERVAL_S": "0"})
    port = testing.free_port()
    server = testing.launch([sys.executable, "-m", "benchmarks.null_responder", str(port)],
                            port, data_dir / "server.log", cwd=ROOT.parent)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


def run_script(workdir: Path, steps: int, server: testing.ServerProcess | None) -> float:
    """Run the logging script once; returns its init -> finish wall time in seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update({
        "WANDB_DIR": str(workdir), "WANDB_CONFIG_DIR": str(workdir / ".config"),
        "WANDB_CACHE_DIR": str(workdir / ".cache"), "WANDB_DATA_DIR": str(workdir / ".data"),
        "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true", "WANDB_ERROR_REPORTING": "false",
        "HOME": str(workdir), "NETRC": str(workdir / ".netrc"),
    })
    if server is None:
        env["WANDB_MODE"] = "offline"
    else:
        env.update({"WANDB_BASE_URL": server.url, "WANDB_API_KEY": KEY})
    script = workdir / "w1_script.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(steps)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"script failed:\n{proc.stderr[-4000:]}")
    for line in proc.stdout.splitlines():
        if line.startswith("ELAPSED "):
            return float(line.split()[1])
    raise RuntimeError(f"no ELAPSED line in:\n{proc.stdout}")


def stored_rows(data_dir: Path) -> list[int]:
    """History rows stored per run of project w1: the check that nothing was lost."""
    from tracklet.config import Settings
    from tracklet.storage import Storage
    from tracklet.storage.history.live import read as live
    from tracklet.storage.metadata.tables import projects, runs

    storage = Storage.open(Settings(data_dir=data_dir), migrate=False)
    try:
        with storage.db.read() as conn:
            ids = list(conn.execute(
                runs.select().with_only_columns(runs.c.id)
                .join_from(runs, projects, projects.c.id == runs.c.project_id)
                .where(projects.c.name == "w1")).scalars())
            counts = live.history_counts(conn, ids)
            return [counts.get(i, 0) for i in ids]
    finally:
        storage.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode (median taken)")
    parser.add_argument("--steps", type=int, default=10_000, help="logged steps per run")
    parser.add_argument("--no-readme", action="store_true", help="do not append to README.md")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tracklet-w1-") as tmp:
        base = Path(tmp)
        (base / "data").mkdir()
        (base / "null").mkdir()
        server = start_server(base / "data")
        null = start_server(base / "null", null=True)
        try:
            offline: list[float] = []
            nulls: list[float] = []
            online: list[float] = []
            cpu_before = cpu_seconds(server)
            cpu_online = 0.0
            for i in range(args.repeats):
                work = base / f"work{i}"
                work.mkdir()
                offline.append(run_script(work, args.steps, None))
                nulls.append(run_script(work, args.steps, null))
                before = cpu_seconds(server)
                online.append(run_script(work, args.steps, server))
                cpu_online += cpu_seconds(server) - before
                print(f"repeat {i + 1}: offline {offline[-1]:.2f}s  null {nulls[-1]:.2f}s  "
                      f"tracklet {online[-1]:.2f}s", flush=True)
            counts = stored_rows(base / "data")
            if counts != [args.steps] * args.repeats:
                raise RuntimeError(f"expected {args.repeats} runs of {args.steps} rows: {counts}")
            total_cpu = cpu_seconds(server) - cpu_before
            peak = peak_rss_mib(server)
        finally:
            server.stop()
            null.stop()

    off, nul, on = (statistics.median(x) for x in (offline, nulls, online))
    ratio = on / off
    rows = [
        ("wall time, offline (median)", f"{off:.2f} s", "floor"),
        ("wall time, online against the null responder (median)", f"{nul:.2f} s",
         "the SDK's own online cost"),
        ("wall time, online against tracklet (median)", f"{on:.2f} s", ""),
        ("tracklet / offline", f"{ratio:.3f}",
         "W1 target <= 1.10: " + ("met" if ratio <= 1.10 else "NOT met")),
        ("null responder / offline", f"{nul / off:.3f}", "SDK floor for any server"),
        ("tracklet / null responder", f"{on / nul:.3f}", "what tracklet's storage adds"),
        ("server CPU per online run", f"{cpu_online / args.repeats:.2f} s",
         f"{cpu_online / args.repeats / on:.2f} of one core over the run"),
        ("server CPU, whole session", f"{total_cpu:.2f} s", "incl. idle sweeps"),
        ("server peak RSS (VmHWM)", f"{peak:.0f} MiB", ""),
    ]
    table = "| measure | value | note |\n|---|---|---|\n" + "\n".join(
        f"| {a} | {b} | {c} |" for a, b, c in rows)
    print(table)
    if not args.no_readme:
        _append_readme(table, args, {"offline": offline, "null": nulls, "tracklet": online})


def _append_readme(table: str, args: argparse.Namespace,
                   samples: dict[str, list[float]]) -> None:
    """Rewrite the README's latest-W1 block (the earlier ones stay as they were)."""
    from benchmarks.harness import update_readme

    load = os.getloadavg()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"### W1: SDK online vs offline, latest ({stamp})\n\n"
        f"`python -m benchmarks.w1_sdk_online_vs_offline --repeats {args.repeats} "
        f"--steps {args.steps}`: 10 metrics x {args.steps} steps, SQLite + local blobs, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the end, Python "
        f"{platform.python_version()}. Samples (s): "
        + "; ".join(f"{k} {', '.join(f'{t:.2f}' for t in v)}" for k, v in samples.items())
        + f".\n\n{table}\n"
    )
    update_readme("w1", section)


if __name__ == "__main__":
    main()
