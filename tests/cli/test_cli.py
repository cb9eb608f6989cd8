"""The ``tracklet`` command line: users, keys and the database, against a real store."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tracklet.cli import cli
from tracklet.config import Settings
from tracklet.domain.keys import hash_api_key, is_valid_api_key
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts


def _user_for(data_dir: Path, key: str) -> tuple[str, bool] | None:
    store = Storage.open(Settings(data_dir=data_dir), migrate=False)
    try:
        with store.db.read() as conn:
            user = accounts.user_by_key_hash(conn, hash_api_key(key))
        return None if user is None else (user.username, user.admin)
    finally:
        store.close()


def test_user_create_with_given_and_generated_keys(tmp_path: Path) -> None:
    runner = CliRunner()
    key = "ci-" + "k" * 45
    given = runner.invoke(cli, ["user", "create", "bob", "--admin", "--key", key,
                                "--data-dir", str(tmp_path)])
    assert given.exit_code == 0, given.output
    assert given.output.strip() == key
    assert _user_for(tmp_path, key) == ("bob", True)

    generated = runner.invoke(cli, ["user", "create", "ann", "--data-dir", str(tmp_path)])
    assert generated.exit_code == 0, generated.output
    new_key = generated.output.strip()
    assert is_valid_api_key(new_key)
    assert _user_for(tmp_path, new_key) == ("ann", False)

    again = runner.invoke(cli, ["user", "create", "bob", "--key", key,
                                "--data-dir", str(tmp_path)])
    assert again.exit_code == 0, "creating an existing user with its key is idempotent"


def test_user_create_refuses_bad_input_cleanly(tmp_path: Path) -> None:
    runner = CliRunner()
    short = runner.invoke(cli, ["user", "create", "bob", "--key", "short",
                                "--data-dir", str(tmp_path)])
    assert short.exit_code != 0 and "40 or more" in short.output
    bad_name = runner.invoke(cli, ["user", "create", "a/b", "--data-dir", str(tmp_path)])
    assert bad_name.exit_code != 0 and "invalid user name" in bad_name.output
    key = "dup-" + "d" * 44
    assert runner.invoke(cli, ["user", "create", "one", "--key", key,
                               "--data-dir", str(tmp_path)]).exit_code == 0
    taken = runner.invoke(cli, ["user", "create", "two", "--key", key,
                                "--data-dir", str(tmp_path)])
    assert taken.exit_code != 0 and "already registered" in taken.output
    assert "Traceback" not in short.output + bad_name.output + taken.output


def test_user_key_issues_a_new_key(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["user", "create", "kim", "--data-dir", str(tmp_path)]).exit_code == 0
    issued = runner.invoke(cli, ["user", "key", "kim", "--data-dir", str(tmp_path)])
    assert issued.exit_code == 0
    assert _user_for(tmp_path, issued.output.strip()) == ("kim", False)
    missing = runner.invoke(cli, ["user", "key", "nobody", "--data-dir", str(tmp_path)])
    assert missing.exit_code != 0 and "no user called 'nobody'" in missing.output


def test_db_upgrade_and_server_help(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "up to date" in result.output
    assert (tmp_path / "tracklet.db").exists()
    help_text = runner.invoke(cli, ["server", "--help"]).output
    for option in ("--host", "--port", "--data-dir", "--db", "--blobs"):
        assert option in help_text


def test_server_refuses_workers_it_cannot_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["server", "--workers", "2", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "--workers" in result.output
    assert not (tmp_path / "tracklet.db").exists(), "refused before touching the store"
