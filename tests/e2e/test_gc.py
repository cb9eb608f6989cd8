"""``run.delete(delete_artifacts=True)`` through the real SDK, then ``tracklet gc`` on the
server's data: the deleted run's own bytes go, bytes still shared or referenced stay and
download intact."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.e2e.conftest import SdkEnv, make_api, sdk_environment, start_server
from tracklet.cli import cli
from tracklet.storage.blob_gc import cas_key

SHARED = b"shared by runs a and b\n"
ONLY_A = random.Random(1).randbytes(20_000)
ONLY_A_ART = random.Random(2).randbytes(30_000)
B_ART = random.Random(3).randbytes(40_000)
C_ART = random.Random(4).randbytes(50_000)


def _key(data: bytes) -> str:
    return cas_key(hashlib.md5(data).hexdigest())


def test_delete_with_artifacts_then_gc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_server(tmp_path / "data")
    try:
        work = tmp_path / "sdk"
        work.mkdir()
        for name, data in (("shared.txt", SHARED), ("only_a.bin", ONLY_A),
                           ("a_art.bin", ONLY_A_ART), ("b_art.bin", B_ART),
                           ("c_art.bin", C_ART)):
            (work / name).write_bytes(data)
        sdk = SdkEnv(server, work, sdk_environment(server, work))
        out = sdk.run("""
            import wandb

            def one(run_id, files, artifact, blob):
                run = wandb.init(project="gc", id=run_id)
                for f in files:
                    run.save(f, policy="now")
                art = wandb.Artifact(artifact, type="model")
                art.add_file(blob)
                run.log_artifact(art, aliases=["best"])
                run.finish()
                return run.entity

            entity = one("a-run", ["shared.txt", "only_a.bin"], "a-model", "a_art.bin")
            one("b-run", ["shared.txt"], "b-data", "b_art.bin")
            one("c-run", [], "c-keep", "c_art.bin")
            print("ENTITY", entity)
            """)
        entity = out.stdout.split("ENTITY ")[1].split()[0]
        api = make_api(server, tmp_path / "api", monkeypatch)
        api.run(f"{entity}/gc/a-run").delete(delete_artifacts=True)
        api.run(f"{entity}/gc/c-run").delete()  # without the flag its artifact stays
        api.flush()
        with pytest.raises(Exception, match=r"not found|Could not find|does not exist"):
            api.artifact(f"{entity}/gc/a-model:best")
        assert api.artifact(f"{entity}/gc/c-keep:best").logged_by() is None

        blobs = server.data_dir / "blobs"
        data = ["--data-dir", str(server.data_dir)]
        young = CliRunner().invoke(cli, ["gc", *data])
        assert young.exit_code == 0, young.output
        assert "deleted 0 blobs" in young.output, "everything is inside the grace period"
        dry = CliRunner().invoke(cli, ["gc", "--dry-run", "--grace", "0", *data])
        assert dry.exit_code == 0, dry.output
        for gone in (ONLY_A, ONLY_A_ART):
            assert _key(gone) in dry.output
        for kept in (SHARED, B_ART, C_ART):
            assert _key(kept) not in dry.output
        assert (blobs / _key(ONLY_A)).exists(), "a dry run deletes nothing"

        done = CliRunner().invoke(cli, ["gc", "--grace", "0", *data])
        assert done.exit_code == 0, done.output
        assert not (blobs / _key(ONLY_A)).exists()
        assert not (blobs / _key(ONLY_A_ART)).exists()
        for kept in (SHARED, B_ART, C_ART):
            assert (blobs / _key(kept)).read_bytes() == kept

        down = tmp_path / "down"
        b_run = api.run(f"{entity}/gc/b-run")
        b_run.file("shared.txt").download(root=str(down), replace=True).close()
        assert (down / "shared.txt").read_bytes() == SHARED
        for name, blob, data_ in (("b-data", "b_art.bin", B_ART),
                                  ("c-keep", "c_art.bin", C_ART)):
            path = Path(api.artifact(f"{entity}/gc/{name}:best").download(
                root=str(down / name)))
            assert (path / blob).read_bytes() == data_
        again = CliRunner().invoke(cli, ["gc", "--grace", "0", *data])
        assert "deleted 0 blobs" in again.output
    finally:
        server.stop()


def test_gc_running_beside_uploads_loses_nothing_referenced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Collections back to back (grace 30 s) while the SDK uploads run files and artifact
    files, some of them bytes an earlier, deleted run held: every referenced blob stays."""
    import threading

    from tracklet.config import Settings
    from tracklet.storage import Storage, blob_gc

    server = start_server(tmp_path / "data")
    stop = threading.Event()
    collections: list[blob_gc.GcReport] = []

    def collect() -> None:
        store = Storage.open(Settings(data_dir=server.data_dir), migrate=False)
        try:
            while not stop.is_set():
                collections.append(blob_gc.collect(store, grace_s=30))
        finally:
            store.close()

    try:
        work = tmp_path / "sdk"
        work.mkdir()
        sdk = SdkEnv(server, work, sdk_environment(server, work))
        sdk.run("""
            import wandb
            run = wandb.init(project="race", id="old")
            open("shared.bin", "wb").write(b"reused bytes" * 1000)
            run.save("shared.bin", policy="now")
            run.finish()
            """)
        api = make_api(server, tmp_path / "api", monkeypatch)
        api.run(api.default_entity + "/race/old").delete()
        # Age the now unreferenced blob past the grace period: the next upload of the same
        # bytes must rewrite it before its row lands, or a collection could take it.
        shared = server.data_dir / "blobs" / _key(b"reused bytes" * 1000)
        old = shared.stat().st_mtime - 7200
        import os

        os.utime(shared, (old, old))
        collector = threading.Thread(target=collect)
        collector.start()
        sdk.run("""
            import os, wandb
            for i in range(4):
                run = wandb.init(project="race", id=f"r{i}")
                open("shared.bin", "wb").write(b"reused bytes" * 1000)
                open(f"own{i}.bin", "wb").write(os.urandom(100_000))
                run.save("shared.bin", policy="now")
                run.save(f"own{i}.bin", policy="now")
                art = wandb.Artifact(f"a{i}", type="data")
                art.add_file(f"own{i}.bin")
                run.log_artifact(art)
                run.finish()
            """)
    finally:
        stop.set()
        if "collector" in locals():
            collector.join(timeout=120)
    try:
        assert len(collections) >= 2, "collections ran during the uploads"
        store = Storage.open(Settings(data_dir=server.data_dir), migrate=False)
        try:
            with store.db.read() as conn:
                keys, _ = blob_gc.referenced_keys(conn)
            missing = [k for k in keys if not store.blobs.exists(k)]
        finally:
            store.close()
        assert keys and missing == []
        down = tmp_path / "down"
        for i in range(4):
            run = api.run(f"{api.default_entity}/race/r{i}")
            run.file("shared.bin").download(root=str(down / str(i)), replace=True).close()
            assert (down / str(i) / "shared.bin").read_bytes() == b"reused bytes" * 1000
            art = api.artifact(f"{api.default_entity}/race/a{i}:latest")
            assert (Path(art.download(root=str(down / f"a{i}"))) / f"own{i}.bin").stat() \
                .st_size == 100_000
    finally:
        server.stop()
