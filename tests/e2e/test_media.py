"""Media and tables logged by the real SDK: stored as run files, referenced from history/summary.

Every media file the SDK wrote locally must come back byte-equal through ``run.files()``, and
every ``path`` in the history rows and the summary must name one of those files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.artifact_helpers import read_tree, result
from tests.e2e.conftest import LiveServer, SdkEnv
from tests.e2e.storage_view import stored_run
from tracklet.storage.history.jsonline import loads

LOG_MEDIA = """
import json, math, struct, wave, wandb
import numpy as np
from PIL import Image as PILImage

rng = np.random.default_rng(0)
with wave.open("tone.wav", "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 5))) for i in range(4000)))
frames = [PILImage.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)) for _ in range(3)]
frames[0].save("clip.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)

run = wandb.init(project="media")
pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
mask = np.zeros((32, 32), dtype=np.uint8); mask[8:24, 8:24] = 1
image = wandb.Image(pixels, caption="a caption",
    masks={"pred": {"mask_data": mask, "class_labels": {0: "bg", 1: "thing"}}},
    boxes={"pred": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2,
        "maxY": 0.6}, "class_id": 1, "box_caption": "thing", "scores": {"acc": 0.9}}],
        "class_labels": {1: "thing"}}})
table = wandb.Table(columns=["x", "y"], data=[[i, i * i] for i in range(20)])
run.log({
    "image": image,
    "audio": wandb.Audio("tone.wav", caption="tone"),
    "video": wandb.Video("clip.gif", format="gif"),
    "html": wandb.Html("<h1>hello</h1>"),
    "cloud": wandb.Object3D(rng.random((50, 3))),
    "hist": wandb.Histogram(rng.normal(size=500)),
    "table": table,
    "chart": wandb.plot.line(table, "x", "y", title="y = x^2"),
})
run.log({"image": wandb.Image(pixels[::-1], caption="second")})
run.finish()
print("RESULT", json.dumps({"id": run.id, "entity": run.entity, "dir": run.dir}))
"""


def _history(server: LiveServer, entity: str, project: str, run_id: str) -> list[dict[str, Any]]:
    stored = stored_run(server, entity, project, run_id)
    return [*stored.history, loads(stored.run.summary)]


def _media_values(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("_type"), str):
                out.append(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for row in rows:
        walk(row)
    return out


def test_media_round_trip(sdk: SdkEnv, api, live_server: LiveServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    logged = result(sdk.run(LOG_MEDIA))
    local = read_tree(Path(logged["dir"]))
    local_media = {k: v for k, v in local.items() if k.startswith("media/")}
    kinds = {k.split("/")[1] for k in local_media}
    assert {"images", "audio", "videos", "html", "object3D", "table"} <= kinds, kinds

    run = api.run(f"{logged['entity']}/media/{logged['id']}")
    remote = {f.name: f for f in run.files(per_page=1000)}
    assert set(local_media) <= set(remote)
    out = tmp_path / "files"
    for name in local_media:
        remote[name].download(root=str(out), replace=True).close()  # an open file
    assert {k: v for k, v in read_tree(out).items()} == local_media

    rows = _history(live_server, logged["entity"], "media", logged["id"])
    media = _media_values(rows)
    types = {m["_type"] for m in media}
    assert {"image-file", "audio-file", "video-file", "html-file", "object3D-file",
            "histogram", "table-file"} <= types, types
    for m in media:
        if "path" in m:
            assert m["path"] in remote, m
            assert remote[m["path"]].size == m.get("size", remote[m["path"]].size)
    image = next(m for m in media if m["_type"] == "image-file" and m.get("caption") ==
                 "a caption")
    assert image["masks"]["pred"]["path"] in remote
    assert image["boxes"]["pred"]["path"] in remote
    assert run.summary["image"]["caption"] == "second"
    assert run.summary["table"]["_type"] == "table-file"

    # The table also became a run_table artifact whose file matches the run file.
    table_artifact = api.artifact(f"{logged['entity']}/media/run-{logged['id']}-table:v0")
    assert table_artifact.type == "run_table"
    got = table_artifact.download(root=str(tmp_path / "tbl"))
    table_file = json.loads((Path(got) / "table.table.json").read_bytes())
    assert table_file["data"] == [[i, i * i] for i in range(20)]
    assert [a.name for a in run.logged_artifacts()].count(f"run-{logged['id']}-table:v0") == 1


def test_table_over_10000_rows(sdk: SdkEnv, api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    logged = result(sdk.run("""
        import json, wandb
        run = wandb.init(project="media-big")
        table = wandb.Table(columns=["i", "s"], data=[[i, f"row {i}"] for i in range(12_000)])
        run.log({"big": table})
        run.finish()
        print("RESULT", json.dumps({"id": run.id, "entity": run.entity, "dir": run.dir}))
        """))
    art = api.artifact(f"{logged['entity']}/media-big/run-{logged['id']}-big:v0")
    root = Path(art.download(root=str(tmp_path / "big")))
    rows = json.loads((root / "big.table.json").read_bytes())["data"]
    assert len(rows) == 12_000 and rows[-1] == [11_999, "row 11999"]
    local = {k: v for k, v in read_tree(Path(logged["dir"])).items() if k.startswith("media/")}
    run = api.run(f"{logged['entity']}/media-big/{logged['id']}")
    remote = {f.name: f for f in run.files(per_page=1000)}
    for name, data in local.items():
        remote[name].download(root=str(tmp_path / "rf"), replace=True).close()
        assert (tmp_path / "rf" / name).read_bytes() == data
