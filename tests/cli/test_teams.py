"""``tracklet org``, ``team``, ``project access``, ``user list`` and ``audit`` against a real
store: what they print, what they store, and clean refusals."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tracklet.cli import cli
from tracklet.config import Settings
from tracklet.domain.policy import Role
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import teams as repo


def _run(tmp_path: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code == code, result.output
    return result.output


def test_org_team_project_and_audit_commands(tmp_path: Path) -> None:
    for name in ("alice", "bob"):
        _run(tmp_path, "user", "create", name)
    assert _run(tmp_path, "org", "create", "acme") == "organization 'acme' created\n"
    _run(tmp_path, "org", "add", "acme", "alice", "--role", "admin")
    assert _run(tmp_path, "org", "list") == "acme\n"
    assert _run(tmp_path, "org", "list", "acme") == "alice\tadmin\n"
    _run(tmp_path, "team", "create", "ml", "--admin", "alice", "--org", "acme")
    _run(tmp_path, "team", "add", "ml", "bob", "--role", "viewer")
    # The organization's own entity (where its registries live) is a team of the org too.
    assert _run(tmp_path, "team", "list") == "acme\tacme\nml\tacme\n"
    assert _run(tmp_path, "team", "list", "ml") == "alice\tadmin\tuser\nbob\tviewer\tuser\n"
    key = _run(tmp_path, "team", "service-account", "ml", "ci bot").strip().splitlines()[-1]
    assert key.startswith("tlk-")
    assert _run(tmp_path, "user", "list") == (
        "alice\tuser\tml:admin\nbob\tuser\tml:viewer\nml-ci-bot\tservice\tml:member\n")

    store = Storage.open(Settings(data_dir=tmp_path))
    try:
        with store.db.write() as conn:
            entity = accounts.get_entity(conn, "ml")
            accounts.ensure_project(conn, entity, "vision")
            assert entity.is_team and entity.org_id is not None
            assert [(m.user.username, m.role) for m in repo.team_members_of(conn, entity.id)
                    ] == [("alice", Role.ADMIN), ("bob", Role.VIEWER),
                          ("ml-ci-bot", Role.MEMBER)]
    finally:
        store.close()
    assert _run(tmp_path, "project", "access", "ml/vision", "organization") == (
        "ml/vision is ORGANIZATION\n")
    _run(tmp_path, "team", "remove", "ml", "bob")
    audit = _run(tmp_path, "audit", "--limit", "3").splitlines()
    assert [line.split("\t")[2:4] for line in audit] == [
        ["team.member.remove", "ml/bob"], ["project.access", "ml/vision"],
        ["user.create", "ml-ci-bot"]]


def test_refusals_are_clean(tmp_path: Path) -> None:
    _run(tmp_path, "user", "create", "alice")
    assert "Error: entity 'nope' not found" in _run(tmp_path, "team", "add", "nope", "alice",
                                                    code=1)
    assert "not one of 'admin', 'member', 'viewer'" in _run(
        tmp_path, "team", "create", "x", "--admin", "alice", code=0) + _run(
        tmp_path, "team", "add", "x", "alice", "--role", "boss", code=2)
    assert "an entity called 'alice' already exists" in _run(
        tmp_path, "team", "create", "alice", "--admin", "alice", code=1)
    assert "no user called 'ghost'" in _run(tmp_path, "team", "add", "x", "ghost", code=1)
    assert "PATH is ENTITY/PROJECT" in _run(tmp_path, "project", "access", "x", "TEAM",
                                            code=2)
    assert "project x/none not found" in _run(tmp_path, "project", "access", "x/none",
                                              "TEAM", code=1)
