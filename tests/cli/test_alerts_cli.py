"""``tracklet alerts set-webhook / show``: an entity's own alert webhook, stored and read
back, with clean refusals of bad URLs and unknown entities."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tracklet.cli import cli
from tracklet.config import Settings
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import alerts as repo


def _run(tmp_path: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code == code, result.output
    return result.output


def test_set_show_and_clear_an_entity_webhook(tmp_path: Path) -> None:
    _run(tmp_path, "team", "create", "ml", "--admin", _user(tmp_path))
    assert _run(tmp_path, "alerts", "show", "ml") == "'ml' has no alert webhook of its own\n"
    hook = "https://hooks.example/services/T1/B2"
    assert _run(tmp_path, "alerts", "set-webhook", "ml", hook) == \
        "alerts of 'ml' go to its webhook\n"
    assert _run(tmp_path, "alerts", "show", "ml") == hook + "\n"
    store = Storage.open(Settings(data_dir=tmp_path))
    try:
        with store.db.read() as conn:
            assert repo.entity_webhook(conn, accounts.get_entity(conn, "ml").id) == hook
    finally:
        store.close()
    _run(tmp_path, "alerts", "set-webhook", "ml", "--clear")
    assert _run(tmp_path, "alerts", "show", "ml") == "'ml' has no alert webhook of its own\n"


def test_refusals_are_clean(tmp_path: Path) -> None:
    _run(tmp_path, "team", "create", "ml", "--admin", _user(tmp_path))
    out = _run(tmp_path, "alerts", "set-webhook", "ml", "ftp://x/y", code=1)
    assert "must be an http(s) URL" in out and "Traceback" not in out
    out = _run(tmp_path, "alerts", "set-webhook", "nobody", "https://x.example/h", code=1)
    assert "entity 'nobody' not found" in out
    out = _run(tmp_path, "alerts", "set-webhook", "ml", code=2)
    assert "give either a URL or --clear" in out


def _user(tmp_path: Path) -> str:
    _run(tmp_path, "user", "create", "alice")
    return "alice"
