#!/usr/bin/env python3
"""Build the web UI (``frontend/`` → ``src/tracklet/ui/static/``) when missing or stale.

Standard library only, so ``make run``, the hatch build hook (``hatch_build.py``) and the UI
tests all call it before anything is installed. "Stale" means the fingerprint of the front
end's sources (package files, configs, ``src/``) differs from the one written beside the
last build (``static/.build-stamp``). ``npm ci`` runs when ``node_modules`` is missing or
older than ``package-lock.json``; packages come from the npm registry through npm itself.

    python scripts/build_ui.py            # build if stale
    python scripts/build_ui.py --check    # exit 1 if stale, build nothing
    python scripts/build_ui.py --force    # build anyway
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
STATIC = ROOT / "src" / "tracklet" / "ui" / "static"
STAMP = STATIC / ".build-stamp"
MANIFEST = STATIC / ".vite" / "manifest.json"
_INPUT_FILES = ("package.json", "package-lock.json", "tsconfig.json", "vite.config.ts")
#: Vite 8 needs this Node.js or newer.
MIN_NODE = (20, 19)


class BuildFailed(RuntimeError):
    """The front end could not be built (no npm, an old Node.js, or npm failed)."""


def fingerprint() -> str:
    """A digest of every file the build reads."""
    digest = hashlib.sha256()
    files = [FRONTEND / name for name in _INPUT_FILES]
    files += sorted(p for p in (FRONTEND / "src").rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(FRONTEND)).encode() + b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


def is_fresh() -> bool:
    """Whether the built assets match the sources."""
    try:
        return MANIFEST.is_file() and STAMP.read_text().strip() == fingerprint()
    except OSError:
        return False


def _run(command: list[str]) -> None:
    print("+", " ".join(command), flush=True)
    result = subprocess.run(command, cwd=FRONTEND, check=False)
    if result.returncode != 0:
        raise BuildFailed(f"{' '.join(command)} exited {result.returncode}")


def _check_node() -> str:
    npm = shutil.which("npm")
    node = shutil.which("node")
    if npm is None or node is None:
        raise BuildFailed("the web UI needs Node.js and npm to build: "
                          "scripts/system-deps.sh ui installs them (Debian)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip().lstrip("v")
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        raise BuildFailed(f"cannot read the Node.js version ({version!r})") from None
    if (major, minor) < MIN_NODE:
        raise BuildFailed(f"Node.js {version} is too old for the UI build: need "
                          f"{MIN_NODE[0]}.{MIN_NODE[1]} or newer")
    return npm


def build(force: bool = False) -> bool:
    """Build unless fresh (or ``force``); True when it built. Raises :class:`BuildFailed`.

    Processes building at once (test workers, a hatch build beside ``make run``) take turns
    on a lock file, so only the first builds and the others find the build fresh."""
    import fcntl

    FRONTEND.mkdir(parents=True, exist_ok=True)
    with (FRONTEND / ".build.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        return _build(force)


def _build(force: bool) -> bool:
    if not force and is_fresh():
        return False
    npm = _check_node()
    installed = FRONTEND / "node_modules" / ".package-lock.json"
    lock = FRONTEND / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        _run([npm, "ci", "--no-audit", "--no-fund"])
    stamp = fingerprint()
    _run([npm, "run", "build"])
    if not MANIFEST.is_file():
        raise BuildFailed(f"the build wrote no {MANIFEST}")
    STAMP.write_text(stamp + "\n")
    return True


def main(argv: list[str] | None = None) -> int:
    """Command line: build if stale; ``--check`` only tells; ``--force`` always builds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when stale")
    parser.add_argument("--force", action="store_true", help="build even when fresh")
    args = parser.parse_args(argv)
    if args.check:
        fresh = is_fresh()
        print("web UI assets are " + ("up to date" if fresh else "missing or stale"))
        return 0 if fresh else 1
    try:
        built = build(force=args.force)
    except BuildFailed as exc:
        print(f"build_ui: {exc}", file=sys.stderr)
        return 1
    print("web UI built" if built else "web UI assets are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
