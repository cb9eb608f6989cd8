"""The ``tracklet`` command line: users, keys and the database, against a real store."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
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
            user = accounts.user_by_key_hash(conn, hash_api_key(store.secret.pepper, key))
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
    none = CliRunner().invoke(cli, ["server", "--workers", "0", "--data-dir", str(tmp_path)])
    assert none.exit_code == 2 and "--workers must be 1 or more" in none.output
    apart = CliRunner().invoke(cli, ["server", "--workers", "2", "--blobs", "memory://",
                                     "--data-dir", str(tmp_path)])
    assert apart.exit_code == 2 and "shared blob store" in apart.output
    assert not (tmp_path / "tracklet.db").exists(), "refused before touching the store"


def test_key_create_list_and_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    assert runner.invoke(cli, ["user", "create", "kim", *data]).exit_code == 0
    made = runner.invoke(cli, ["key", "create", "laptop", "--user", "kim", *data])
    assert made.exit_code == 0, made.output
    key = made.output.strip()
    assert is_valid_api_key(key) and _user_for(tmp_path, key) == ("kim", False)
    dup = runner.invoke(cli, ["key", "create", "laptop", "--user", "kim", *data])
    assert dup.exit_code != 0 and "already a key named 'laptop'" in dup.output

    listed = runner.invoke(cli, ["key", "list", "--user", "kim", *data])
    assert listed.exit_code == 0
    names = [line.split("\t")[0] for line in listed.output.splitlines()]
    assert len(names) == 2 and names[1] == "laptop" and names[0].startswith("tlk-")
    assert key not in listed.output

    revoked = runner.invoke(cli, ["key", "revoke", "laptop", "--user", "kim", *data])
    assert revoked.exit_code == 0, revoked.output
    assert _user_for(tmp_path, key) is None
    again = runner.invoke(cli, ["key", "revoke", "laptop", "--user", "kim", *data])
    assert again.exit_code != 0 and "has no key" in again.output
    nobody = runner.invoke(cli, ["key", "list", "--user", "nobody", *data])
    assert nobody.exit_code != 0 and "no user called 'nobody'" in nobody.output


def test_user_passwords_from_stdin(tmp_path: Path) -> None:
    from tracklet.errors import Unauthenticated
    from tracklet.storage import credentials

    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    made = runner.invoke(cli, ["user", "create", "pat", "--password", *data],
                         input="first secret\n")
    assert made.exit_code == 0, made.output
    short = runner.invoke(cli, ["user", "passwd", "pat", *data], input="short\n")
    assert short.exit_code != 0 and "8 to 1024" in short.output
    changed = runner.invoke(cli, ["user", "passwd", "pat", *data], input="second secret\n")
    assert changed.exit_code == 0, changed.output
    store = Storage.open(Settings(data_dir=tmp_path))
    try:
        assert credentials.check_password(store, "pat", "second secret").username == "pat"
        for username, password in (("pat", "first secret"), ("nobody", "second secret")):
            try:
                credentials.check_password(store, username, password)
            except Unauthenticated as exc:
                assert exc.message == "wrong username or password"
            else:
                raise AssertionError(f"{username} signed in with {password!r}")
    finally:
        store.close()


def test_admin_key_from_the_environment_is_never_printed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    key = "env-" + "e" * 44
    from_env = CliRunner().invoke(cli, ["server", "--data-dir", str(tmp_path / "a")],
                                  env={"TRACKLET_ADMIN_KEY": key})
    assert from_env.exit_code == 0, from_env.output
    assert key not in from_env.output and "TRACKLET_ADMIN_KEY" in from_env.output
    assert _user_for(tmp_path / "a", key) == ("admin", True)
    generated = CliRunner().invoke(cli, ["server", "--data-dir", str(tmp_path / "b")],
                                   env={"TRACKLET_ADMIN_KEY": ""})
    assert generated.exit_code == 0, generated.output
    printed = re.search(r"with API key:\s+(\S+)", generated.output)
    assert printed and _user_for(tmp_path / "b", printed.group(1)) == ("admin", True)


def test_data_dir_database_and_secret_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    result = CliRunner().invoke(cli, ["db", "upgrade", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in ("tracklet.db", "secret.key"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    # An existing database readable by others is tightened when it is opened.
    (data_dir / "tracklet.db").chmod(0o644)
    assert CliRunner().invoke(cli, ["db", "upgrade", "--data-dir", str(data_dir)]).exit_code == 0
    assert stat.S_IMODE((data_dir / "tracklet.db").stat().st_mode) == 0o600
    secret = (data_dir / "secret.key").read_text()
    assert secret.encode() not in (data_dir / "tracklet.db").read_bytes()
