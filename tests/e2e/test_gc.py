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
