"""A source deployment for the export/import tests: two finished runs written by the real
wandb SDK (history with NaN and nulls, a file, console output, an artifact the second run
uses) and one run still running, written over the wire with system metrics and console."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import LiveServer, SdkEnv, sdk_environment
from tests.e2e.http_writer import HttpWriter

PROJECT = "moved"
WEIGHTS = random.Random(7).randbytes(300_000)


def fill_source(server: LiveServer, workdir: Path) -> str:
    """Write the runs into ``server``; returns their entity."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "weights.bin").write_bytes(WEIGHTS)
    sdk = SdkEnv(server, workdir, sdk_environment(server, workdir))
    out = sdk.run(f"""
        import math
        import wandb

        run = wandb.init(project={PROJECT!r}, id="first-run", name="first run", group="g1",
                         job_type="train", tags=["t1", "t2"], notes="the notes",
                         config={{"lr": 0.1, "nested": {{"a": [1, 2]}}}})
        for i in range(400):
            run.log({{"loss": 1 / (i + 1), "i": i, "odd": math.nan if i == 5 else i / 2,
                      "text": "s" + str(i) if i % 50 == 0 else None}})
        print("hello console")
        run.save("weights.bin", policy="now")
        art = wandb.Artifact("dataset", type="data", metadata={{"rows": 3}})
        art.add_file("weights.bin")
        run.log_artifact(art, aliases=["best"])
        run.summary["best"] = 0.5
        run.finish()
        second = wandb.init(project={PROJECT!r}, id="second-run", group="g1")
        second.use_artifact("dataset:best").download()
        second.log({{"x": 1}})
        second.finish()
        print("IDS", run.entity, run.id, second.id)
        """)
    entity = out.stdout.split("IDS ")[1].split()[0]
    writer = HttpWriter(server.url, server.key)
    writer.create_run(entity, PROJECT, "still-running", config={"k": 1})
    writer.log(entity, PROJECT, "still-running", [{"y": i * 3} for i in range(120)])
    writer.stream(entity, PROJECT, "still-running", {
        "wandb-events.jsonl": {"offset": 0, "content": [
            json.dumps({"system.cpu": 12.5, "_runtime": 1, "_timestamp": 1.7e9}),
            json.dumps({"system.cpu": 40.0, "_runtime": 2, "_timestamp": 1.7e9 + 1})]},
        "output.log": {"offset": 0, "content": ["line one\n", "line two\n"]},
    })
    writer.client.close()
    wait_compacted(server)
    return entity


def wait_compacted(server: LiveServer, timeout: float = 60.0) -> None:
    """Wait until no run waits for history compaction, so the stored blobs stay as they
    are (a finished run's Parquet is written in the background after its finish)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.url, auth=("api", server.key)) as client:
        while True:
            text = client.get("/metrics").raise_for_status().text
            backlog = [float(line.split()[1]) for line in text.splitlines()
                       if line.startswith("tracklet_compaction_backlog_runs ")]
            if backlog == [0.0]:
                return
            assert time.monotonic() < deadline, "compaction did not finish"
            time.sleep(0.1)
