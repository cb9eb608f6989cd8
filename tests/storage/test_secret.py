"""The server secret lives outside the database, one per deployment, and every process of a
database must hold the same one."""

from __future__ import annotations

import stat
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from tracklet.config import Settings
from tracklet.errors import InvalidInput
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts
from tracklet.storage.secret import SECRET_FILE, ServerSecret


def test_processes_starting_together_create_one_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    found: list[bytes] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        found.append(ServerSecret.load_or_create(data_dir).value)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 8 and len(set(found)) == 1
    assert [p.name for p in data_dir.iterdir()] == [SECRET_FILE], "no temporary file left"
    assert stat.S_IMODE((data_dir / SECRET_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_the_signing_key_is_not_in_the_database(storage: Storage) -> None:
    key = storage.signing_secret()
    assert len(key) == 32 and key != storage.secret.pepper != storage.secret.csrf_key
    with storage.db.read() as conn:
        values = conn.exec_driver_sql("SELECT value FROM server_settings").scalars().all()
    secret_hex = storage.secret.value.decode()
    assert not any(key.hex() in v or secret_hex in v for v in values)
    with storage.db.read() as conn:
        assert accounts.get_setting(conn, "signing_secret") is None


def test_a_process_with_another_secret_refuses_to_start(storage: Storage,
                                                        storage_settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="another server secret"):
        Storage.open(replace(storage_settings, secret_key="s" * 40))
    # Another host: its own data dir (and so its own secret file), the same database.
    moved = replace(storage_settings, data_dir=storage_settings.data_dir.parent / "elsewhere",
                    db=storage_settings.db_url)
    with pytest.raises(InvalidInput, match="copy the first server's"):
        Storage.open(moved)
    # The same secret given as a setting is accepted.
    same = replace(moved, secret_key=storage.secret.value.decode())
    Storage.open(same).close()


def test_a_short_secret_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="at least 32"):
        Storage.open(Settings(data_dir=tmp_path, secret_key="short", blobs="memory://"))
