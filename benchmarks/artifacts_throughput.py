"""Artifact upload and download throughput against the local-disk floor.

Builds a directory of N files (1 GB in 1,000 files by default, 100 MB in 100 with
``--small``), copies it on the local disk (the floor: nothing can move bytes faster here),
then logs it as an artifact with the real wandb SDK against a fresh ``tracklet server`` and
downloads it back with an empty cache. Prints MB/s for each and the ratio to the floor, and
appends a row to ``benchmarks/README.md`` unless ``--no-record``.

    python -m benchmarks.artifacts_throughput [--small] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from tracklet import testing

KEY = "local-" + "bench" * 8 + "abcd"
README = Path(__file__).parent / "README.md"


def _make_tree(root: Path, files: int, size: int) -> None:
    root.mkdir(parents=True)
    block = os.urandom(1 << 20)
    for i in range(files):
        sub = root / f"part{i % 10}"
        sub.mkdir(exist_ok=True)
        # Unique content per file (no dedup), cheap to produce.
        head = hashlib.sha256(str(i).encode()).digest()
        with (sub / f"f{i:05d}.bin").open("wb") as f:
            left = size
            f.write(head)
            left -= len(head)
            while left > 0:
                f.write(block[: min(left, len(block))])
                left -= len(block)


def _copy_floor(src: Path, dst: Path) -> float:
    start = time.perf_counter()
    shutil.copytree(src, dst)
    os.sync()
    return time.perf_counter() - start


def _sdk(code: str, url: str, work: Path, cache: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update({"WANDB_BASE_URL": url, "WANDB_API_KEY": KEY, "WANDB_DIR": str(work),
                "WANDB_CACHE_DIR": str(cache), "WANDB_CONFIG_DIR": str(work / ".config"),
                "WANDB_DATA_DIR": str(work / ".data"), "WANDB_SILENT": "true",
                "WANDB_ERROR_REPORTING": "false", "HOME": str(work)})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-4000:])
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    out: dict[str, float] = json.loads(line[len("RESULT "):])
    return out


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    """Run the benchmark and print (and record) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="100 MB in 100 files")
    parser.add_argument("--no-record", action="store_true", help="do not touch README.md")
    args = parser.parse_args()
    files, size = (100, 1 << 20) if args.small else (1000, 1 << 20)
    total_mb = files * size / (1 << 20)
    with tempfile.TemporaryDirectory(prefix="tracklet-bench-") as tmp:
        root = Path(tmp)
        src = root / "src"
        _make_tree(src, files, size)
        floor_s = _copy_floor(src, root / "copy")
        shutil.rmtree(root / "copy")
        server = testing.start_server(root / "data", key=KEY)
        url = server.url
        work = root / "work"
        work.mkdir()
        try:
            up = _sdk(f"""
                import json, time, wandb
                run = wandb.init(project="bench")
                art = wandb.Artifact("tree", type="dataset")
                t0 = time.perf_counter(); art.add_dir({str(src)!r}); t1 = time.perf_counter()
                run.log_artifact(art); art.wait(); t2 = time.perf_counter()
                run.finish()
                print("RESULT", json.dumps({{"hash_s": t1 - t0, "upload_s": t2 - t1,
                                             "entity": 0}}))
                """, url, work, root / "cache-up")
            down = _sdk(f"""
                import json, time, wandb
                api = wandb.Api()
                art = api.artifact(api.default_entity + "/bench/tree:v0")
                t0 = time.perf_counter(); art.download(root={str(root / 'dl')!r})
                print("RESULT", json.dumps({{"download_s": time.perf_counter() - t0}}))
                """, url, work, root / "cache-down")
            rss = _peak_rss_mb(server.pid)
        finally:
            server.stop(timeout=30)
    floor = total_mb / floor_s
    upload = total_mb / up["upload_s"]
    download = total_mb / down["download_s"]
    print(f"{files} files, {total_mb:.0f} MB")
    print(f"local disk copy (floor): {floor:8.1f} MB/s")
    print(f"SDK hashing (add_dir):   {total_mb / up['hash_s']:8.1f} MB/s")
    print(f"artifact upload:         {upload:8.1f} MB/s  ({upload / floor:.2f} x floor)")
    print(f"artifact download:       {download:8.1f} MB/s  ({download / floor:.2f} x floor)")
    print(f"server peak RSS:         {rss:8.0f} MB")
    if not args.no_record:
        row = (f"| {dt.date.today()} | artifacts_throughput{' --small' if args.small else ''} "
               f"| {files} files, {total_mb:.0f} MB | {floor:.0f} MB/s | {upload:.0f} MB/s "
               f"({upload / floor:.2f}x) | {download:.0f} MB/s ({download / floor:.2f}x) "
               f"| {rss:.0f} MB |\n")
        add_row(README, row)


def add_row(readme: Path, row: str) -> None:
    """Add ``row`` at the end of the README's artifact table (a new table at the end of the
    file when there is none)."""
    lines = readme.read_text().splitlines(keepends=True)
    header = next((i for i, line in enumerate(lines) if line.startswith("| date | run | data")),
                  None)
    if header is None:
        lines += ["\n", _TABLE_HEADER]
        end = len(lines)
    else:
        end = header
        while end < len(lines) and lines[end].startswith("|"):
            end += 1
    lines.insert(end, row)
    readme.write_text("".join(lines))


_TABLE_HEADER = ("| date | run | data | floor (disk copy) | upload | download | server peak RSS |\n"
                 "|---|---|---|---|---|---|---|\n")


if __name__ == "__main__":
    main()
