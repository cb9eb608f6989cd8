"""The upstream wandb system tests' "fixture service", mapped onto tracklet's storage API.

The SDK's system tests create their users, organizations and teams by POSTing JSON commands to
a fixture service beside the server. This carries each out with the same storage calls the
`tracklet` CLI makes (one open Storage instead of a process per command: a user per test):

- ``db/user`` ``up``: ``tracklet user create U --key U [--admin]`` (the API key ``U`` logs in
  as ``U``, as the tests expect); ``password``, ``down``, ``login``, ``logout``: no-ops.
- ``db/organization`` ``up``: ``tracklet org create O`` and ``tracklet org add O U --role admin``;
  ``add_members``: ``tracklet org add`` for each member with its role; ``down``: no-op.
- ``db/team`` ``up``: ``tracklet team create T --admin U --org O``; ``down``: no-op.

Usage: ``python scripts/conformance_fixtures.py --data-dir DIR [--port N]`` (with tracklet
importable, e.g. ``PYTHONPATH=src``); prints its port on the first line of stdout. ``GET``
answers 200 (the harness's health probe).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tracklet.config import Settings
from tracklet.errors import TrackletError
from tracklet.storage import Storage, teams


def commands_for(path: str, body: dict[str, Any]) -> list[list[str]]:
    """The tracklet CLI commands (without the executable) that carry out one fixture command."""
    kind = path.strip("/").removeprefix("db/")
    command = body.get("command")
    if kind == "user" and command == "up":
        user = str(body["username"])
        admin = ["--admin"] if body.get("admin") else []
        return [["user", "create", user, "--key", user, *admin]]
    if kind == "organization" and command == "up":
        org = str(body["orgName"])
        cmds = [["org", "create", org]]
        if body.get("username"):
            cmds.append(["org", "add", org, str(body["username"]), "--role", "admin"])
        return cmds
    if kind == "organization" and command == "add_members":
        members = (body.get("fixtureData") or {}).get("members") or []
        return [["org", "add", str(body["orgName"]), str(m["username"]), "--role", str(m["role"])]
                for m in members]
    if kind == "team" and command == "up":
        data = body.get("fixtureData") or {}
        cmd = ["team", "create", str(data["team"]["name"]), "--admin", str(body["username"])]
        if (data.get("organization") or {}).get("name"):
            cmd += ["--org", str(data["organization"]["name"])]
        return [cmd]
    return []


def run(storage: Storage, cmd: list[str]) -> None:
    """Carry out one CLI command of `commands_for` with the storage call that command makes."""
    match cmd:
        case ["user", "create", name, "--key", key, *flags]:
            storage.create_user(name, admin="--admin" in flags, key=key)
        case ["org", "create", name]:
            teams.create_org(storage, name)
        case ["org", "add", name, user, "--role", role]:
            teams.set_org_member(storage, name, user, teams.parse_role(role))
        case ["team", "create", name, "--admin", admin, *rest]:
            teams.create_team(storage, name, org=rest[1] if rest else None, admin=admin)
        case _:
            raise ValueError(f"no fixture for {cmd}")


def main() -> None:
    """Serve the fixture commands until killed."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    storage = Storage.open(Settings.from_env(data_dir=args.data_dir))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(200, {"ok": True})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            for cmd in commands_for(self.path, body):
                try:
                    with lock:
                        run(storage, cmd)
                except (TrackletError, ValueError) as exc:
                    return self._send(500, {"error": str(exc), "command": cmd})
            self._send(200, {"ok": True})

        def log_message(self, format: str, *a: Any) -> None:  # noqa: A002
            sys.stderr.write((format % a) + "\n")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
