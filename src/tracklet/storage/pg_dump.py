"""PostgreSQL's own dump and restore tools, run for ``tracklet backup`` / ``restore``.

``pg_dump`` takes a consistent snapshot in one repeatable-read transaction, so servers keep
writing while it runs. The custom format is compressed and is restored by ``pg_restore`` in
one transaction: a failure leaves the target database as empty as it was. The connection
goes to the tools as libpq variables (``PGHOST``, ``PGPASSWORD``...), never on the command
line, where every user of the machine could read the password.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from tracklet.errors import InvalidInput, Unsupported


def is_postgresql(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return url.startswith(("postgresql:", "postgresql+"))


def tool(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``: on PATH, else Debian's newest server
    package's (``/usr/lib/postgresql/<version>/bin``)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                      key=lambda p: [int(x) for x in p.parts[-3].split(".") if x.isdigit()])
    if versions:
        return str(versions[-1])
    raise Unsupported(f"{name} not found: install PostgreSQL's client tools (Debian: "
                      "apt-get install postgresql-client; scripts/system-deps.sh installs "
                      "them with the server)")


def libpq_env(url: str) -> dict[str, str]:
    """The process environment plus the libpq variables naming the database of ``url``."""
    parsed = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for var, value in (("PGHOST", parsed.host), ("PGPORT", parsed.port),
                       ("PGUSER", parsed.username), ("PGPASSWORD", parsed.password),
                       ("PGDATABASE", parsed.database)):
        if value is not None:
            env[var] = str(value)
    host = parsed.query.get("host")  # a socket folder: postgresql://u@/db?host=/run/pg
    if isinstance(host, str):
        env["PGHOST"] = host
    sslmode = parsed.query.get("sslmode")
    if isinstance(sslmode, str):
        env["PGSSLMODE"] = sslmode
    return env


def _run(command: list[str], url: str, what: str) -> None:
    proc = subprocess.run(command, env=libpq_env(url), capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise InvalidInput(f"{what} failed (exit {proc.returncode}): {' / '.join(detail)}")


def dump(url: str, target: Path) -> int:
    """Dump the database of ``url`` into the file ``target`` (custom format, 0600, written
    atomically); its size in bytes."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    tmp.touch(mode=0o600)
    try:
        _run([tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
              f"--file={tmp}"], url, "pg_dump")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target.stat().st_size


def restore(url: str, source: Path) -> None:
    """Load the dump ``source`` into the (empty) database of ``url``, in one transaction."""
    _run([tool("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={make_url(url).database}", str(source)],
         url, "pg_restore")
