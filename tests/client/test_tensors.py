"""Arrays as a histogram plus statistics; ``Tensor(keep="full")`` round trips bit for bit
through the server (online and offline + sync); ``run.save`` uploads a run file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

import tracklet
from tests.client.helpers import ENTITY, project
from tests.e2e.conftest import LiveServer
from tracklet.client.credentials import Credentials
from tracklet.client.sync import sync_run


def _array() -> Any:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    x[0, 0, 0], x[1, 1, 1], x[2, 2, 2] = np.nan, np.inf, -np.inf
    return x


def test_an_array_is_logged_as_histogram_and_statistics(client_env: Path, api: Any) -> None:
    name = project()
    x = _array()
    with tracklet.init(name, dir=client_env) as run:
        run.log({"w": x})
        x[...] = 0  # changed in place after log(): the logged values were copied
    row = next(iter(api.run(f"{ENTITY}/{name}/{run.id}").scan_history()))
    finite = _array()[np.isfinite(_array())].astype(np.float64)
    counts, edges = np.histogram(finite, bins=64)
    assert row["w"] == {"_type": "histogram", "values": counts.tolist(),
                        "bins": edges.tolist()}
    assert row["w/nan"] == 1 and row["w/inf"] == 2
    assert math.isclose(row["w/mean"], finite.mean()) and math.isclose(row["w/std"], finite.std())
    assert (row["w/min"], row["w/max"]) == (finite.min(), finite.max())
    assert math.isclose(row["w/norm"], float(np.linalg.norm(finite)))


def test_numpy_scalars_become_numbers(client_env: Path, api: Any) -> None:
    name = project()
    with tracklet.init(name, dir=client_env) as run:
        run.log({"f": np.float32(0.5), "i": np.int64(2**40), "b": np.bool_(True),
                 "zero_d": np.array(3.25)})
    row = next(iter(api.run(f"{ENTITY}/{name}/{run.id}").scan_history()))
    assert (row["f"], row["i"], row["b"], row["zero_d"]) == (0.5, 2**40, True, 3.25)


def test_a_full_tensor_round_trips_bit_for_bit(client_env: Path, api: Any) -> None:
    name = project()
    x = _array()
    with tracklet.init(name, dir=client_env) as run:
        run.log({"w": tracklet.Tensor(x, keep="full")})
        run.log({"w": tracklet.Tensor(x, keep="full")})
        local = run.tensor("w", 1)
    assert local.tobytes() == x.tobytes() and local.dtype == x.dtype and local.shape == x.shape
    assert run.dir is not None and len(list((run.dir / "files").rglob("*.npy"))) == 1
    remote = api.run(f"{ENTITY}/{name}/{run.id}")
    for step in (0, 1):
        back = tracklet.load_tensor(remote, "w", step)
        assert back.tobytes() == x.tobytes() and back.dtype == np.float32
        assert back.shape == (3, 4, 5)


def test_offline_full_tensors_and_saved_files_sync(client_env: Path, api: Any,
                                                   live_server: LiveServer,
                                                   tmp_path: Path) -> None:
    name = project()
    notes = tmp_path / "notes.txt"
    notes.write_text("hello from the run\n")
    with tracklet.init(name, mode="offline", dir=client_env) as run:
        run.log({"w": tracklet.Tensor(_array(), keep="full")})
        assert run.save(notes) == "notes.txt"
    assert run.dir is not None
    creds = Credentials(live_server.url, live_server.key)
    assert sync_run(run.dir, creds).ok
    assert sync_run(run.dir, creds).rows == 0
    remote = api.run(f"{ENTITY}/{name}/{run.id}")
    assert tracklet.load_tensor(remote, "w", 0).tobytes() == _array().tobytes()
    names = {f.name for f in remote.files()}
    assert "notes.txt" in names
    remote.file("notes.txt").download(root=str(tmp_path / "dl"), replace=True).close()
    assert (tmp_path / "dl" / "notes.txt").read_text() == "hello from the run\n"
