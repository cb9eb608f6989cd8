"""Shared machinery: the tracklet server under test, command-line options, tables, README.

Every workload starts its own ``python -m tracklet server`` (through ``tracklet.testing``) on
a free port with a fresh data dir (SQLite by default; ``--db``/``--blobs`` are passed through
for PostgreSQL/S3), so a run measures the code checked out next to it and nothing else.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tracklet import testing
from tracklet.testing import TrackletServer

ROOT = Path(__file__).resolve().parent
README = ROOT / "README.md"
PEERS_DIR = ROOT / ".peers"
ADMIN_KEY = "local-" + "bench0" * 7 + "xyz"
ENTITY = "admin"
SCALES = (1, 10, 100)
T = TypeVar("T")


#: A ``tracklet server`` subprocess on a fresh data dir (tracklet.testing's).
Server = TrackletServer

#: Variables every server gets on top of the inherited environment: a workload that starts
#: its own S3 endpoint puts the endpoint and credentials here (benchmarks/backends.py).
SERVER_ENV: dict[str, str] = {}


def start_server(data_dir: Path, db: str | None = None, blobs: str | None = None,
                 workers: int = 1) -> Server:
    """Start ``python -m tracklet server`` on a free port (``--workers`` when more than
    one), logging warnings only, and wait until it is ready."""
    return testing.start_server(data_dir, key=ADMIN_KEY, db=db or "", blobs=blobs or "",
                                env={"TRACKLET_LOG_LEVEL": "warning", **SERVER_ENV},
                                args=("--workers", str(workers)) if workers > 1 else (),
                                # Each worker process imports and opens everything itself:
                                # on this busy machine two took 20-53 s to answer.
                                timeout=90 if workers == 1 else 240)


@contextmanager
def workdir(keep: bool = False, prefix: str = "tracklet-bench-") -> Iterator[Path]:
    """A scratch folder for data dirs and floor files, removed afterwards unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            print(f"(kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def fresh_store(db: str | None, blobs: str | None) -> Iterator[tuple[str | None, str | None]]:
    """Per-measurement copies of passed-through stores, so every server starts empty.

    SQLite needs nothing (each server has its own data dir). A PostgreSQL URL gets a new
    database created beside the named one (dropped afterwards); a blob URL gets a unique
    sub-prefix.
    """
    import uuid

    tag = uuid.uuid4().hex[:10]
    if blobs:
        blobs = f"{blobs.rstrip('/')}/bench-{tag}"
    if not db or not db.startswith("postgresql"):
        yield db, blobs
        return
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(db.replace("postgresql+psycopg://", "postgresql://", 1))
    name = f"bench_{tag}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False), blobs
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_server(args: argparse.Namespace, base: Path, name: str = "server") -> Iterator[Server]:
    """A fresh server (fresh data dir, database and blob prefix) for one measurement, with
    ``args.workers`` processes when the workload has that option."""
    with fresh_store(args.db, args.blobs) as (db, blobs):
        server = start_server(base / name, db=db, blobs=blobs,
                              workers=getattr(args, "workers", 1))
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def throwaway_server() -> Iterator[Server]:
    """A server on SQLite + local blobs in a scratch folder, removed afterwards."""
    with workdir() as base:
        server = start_server(base / "server")
        try:
            yield server
        finally:
            server.stop()


class Reachable(Protocol):
    """Anything wandb can be pointed at: a base URL and an API key."""

    url: str
    key: str


def wandb_api(server: Reachable, workdir: Path) -> Any:
    """A ``wandb.Api()`` for ``server`` with private dirs under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        del os.environ[key]
    os.environ.update({
        "WANDB_BASE_URL": server.url, "WANDB_API_KEY": server.key, "WANDB_DIR": str(workdir),
        "WANDB_CONFIG_DIR": str(workdir / ".config"), "WANDB_CACHE_DIR": str(workdir / "cache"),
        "WANDB_DATA_DIR": str(workdir / "data"), "WANDB_ERROR_REPORTING": "false",
        "WANDB_SILENT": "true", "NETRC": str(workdir / ".netrc"),
    })
    import wandb

    return wandb.Api(api_key=server.key, overrides={"base_url": server.url}, timeout=120)


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(seconds, result) of calling ``fn()``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def replace_section(title: str, body: str) -> None:
    """Replace (or add at the end) the ``## title`` section of benchmarks/README.md."""
    text = README.read_text()
    header = f"## {title}\n"
    if header in text:
        start = text.index(header)
        rest = text[start + len(header):]
        end = rest.find("\n## ")
        text = text[:start] + (rest[end + 1:] if end >= 0 else "")
    README.write_text(text.rstrip() + "\n\n" + header + "\n" + body.strip() + "\n")


# -- options ------------------------------------------------------------------------------


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every workload shares."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--scale", type=int, choices=SCALES, default=1,
                   help="size multiplier (100 is the size named in the issue)")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes: a smoke run in seconds (not recorded in the README)")
    p.add_argument("--db", default=None, help="metadata DB URL passed to the server")
    p.add_argument("--blobs", default=None, help="blob store URL passed to the server")
    p.add_argument("--no-readme", action="store_true", help="do not update benchmarks/README.md")
    p.add_argument("--keep", action="store_true", help="keep the scratch data dirs")
    return p


def command_line(prog: str, argv: Sequence[str]) -> str:
    """The command that produced a table, for the README."""
    return " ".join(["python -m", prog, *argv]).strip()


# -- tables -------------------------------------------------------------------------------


@dataclass
class Table:
    """A results table: printed to the terminal and written as Markdown."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        """Append a row (cells are formatted with :func:`fmt`)."""
        self.rows.append([fmt(c) for c in cells])

    def markdown(self) -> str:
        """The table as GitHub Markdown."""
        out = ["| " + " | ".join(self.columns) + " |",
               "|" + "|".join("---" for _ in self.columns) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(out)

    def text(self) -> str:
        """The table aligned for a terminal."""
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c)
                  for i, c in enumerate(self.columns)]
        line = "  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True))
        body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in self.rows]
        return "\n".join([self.title, line, "-" * len(line), *body, *self.notes])


def fmt(value: Any) -> str:
    """Numbers to short readable text; everything else via ``str``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 0.1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def ratio(num: float | None, den: float | None) -> str:
    """``num/den`` as ``1.23x``, or ``-`` when either side is missing."""
    if not num or not den:
        return "-"
    r = num / den
    return f"{r:.3g}x" if r < 10 else f"{r:,.0f}x"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None for no values."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]


# -- README -------------------------------------------------------------------------------


def machine_line() -> str:
    """One line naming the machine, for the README."""
    import platform

    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} CPU, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, load average {load1:.1f} at the end "
            "(other jobs share this machine)")


def update_readme(section: str, body: str, path: Path = README) -> None:
    """Replace (or append) ``<!-- BEGIN section -->...<!-- END section -->`` in the README."""
    begin, end = f"<!-- BEGIN {section} -->", f"<!-- END {section} -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def report(section: str, heading: str, tables: Sequence[Table], command: str,
           args: argparse.Namespace, intro: str = "") -> None:
    """Print the tables and, unless --quick/--no-readme, record them in the README."""
    for t in tables:
        print()
        print(t.text())
    if args.quick or args.no_readme:
        return
    backend = "SQLite" if not args.db else args.db.split(":", 1)[0]
    parts = [f"### {heading}", "",
             f"Command: `{command}`  ",
             f"Recorded {time.strftime('%Y-%m-%d %H:%M')} on {machine_line()}; metadata DB: "
             f"{backend}.", ""]
    if intro:
        parts += [intro.strip(), ""]
    for t in tables:
        parts += [f"**{t.title}**", "", t.markdown(), ""]
        parts += [f"{n}  " for n in t.notes]
        if t.notes:
            parts.append("")
    update_readme(section, "\n".join(parts))
    print(f"\n(recorded in {README.relative_to(ROOT.parent)}, section {section})")
