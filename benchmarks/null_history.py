"""Pre-encoded answers to the wandb SDK's history read, for the null responder.

``wandb.Api().run(path).scan_history(keys=[...])`` (wandb 0.31) sends, besides Viewer and
GetDefaultEntity: the Run query (RunFragment), RunHistoryKeys (for ``lastStep``),
RunParquetHistory (tracklet lists no Parquet file and every step as live, finished runs
too, so scan_history's key filter holds), and then, from wandb-core, one
SampledHistoryPage per page of steps.

:class:`History` holds the generated history (benchmarks/data.py) of some runs as JSON
fragments encoded once at startup, so every answer is a join of ready bytes: what a server
that spends nothing on storage, lookup or encoding would send. A run is running unless its
project name ends in :data:`EXPORTED_SUFFIX`; then it is finished. Either way its history is
answered as tracklet answers it: every step in ``liveData``, pages from SampledHistoryPage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from benchmarks import data
from benchmarks.runs import run_name

EXPORTED_SUFFIX = "-exported"
_RUN_NAME = re.compile(r"r(\d{6})")


def run_index(name: str) -> int | None:
    """Run number ``i`` of a run named ``run_name(i)``, else None."""
    m = _RUN_NAME.fullmatch(name)
    return int(m.group(1)) if m and run_name(int(m.group(1))) == name else None


class History:
    """The generated history of runs ``runs`` (``steps`` steps each), encoded for ``keys``."""

    def __init__(self, runs: Sequence[int], steps: int, keys: Sequence[str]) -> None:
        self.steps = steps
        self.keys = list(keys)
        # {(run, key): [b'{"_step":s,"key":v}' for every step]}
        self._rows: dict[tuple[int, str], list[bytes]] = {
            (r, k): [orjson.dumps({"_step": s, k: data.value(r, s, int(k[1:]))})
                     for s in range(steps)]
            for r in runs for k in self.keys}
        self._live = orjson.dumps([{"_step": s} for s in range(steps)])
        type_counts = [{"type": "number", "count": steps}]
        self._history_keys = {
            "keys": {k: {"typeCounts": type_counts}
                     for k in ("_step", "_runtime", "_timestamp", *data.METRICS)},
            "lastStep": steps - 1}
        self._history_keys_json = orjson.dumps(self._history_keys)

    def answer(self, query: str, variables: dict[str, Any]) -> bytes | None:
        """The whole ``{"data": ...}`` body for a ``project { run { ... } }`` read, or None
        when the document is not one of the history read's."""
        project = str(variables.get("project") or "")
        name = str(variables.get("name") or variables.get("run") or variables.get("runName")
                   or "")
        run = run_index(name)
        if run is None or (run, self.keys[0]) not in self._rows:
            return _wrap(b"null")
        exported = project.endswith(EXPORTED_SUFFIX)
        if "sampledHistory" in query:
            inner = self._sampled(run, orjson.loads(variables["spec"]))
        elif "parquetHistory" in query:
            inner = b'{"parquetHistory":{"parquetUrls":[],"liveData":' + self._live + b"}}"
        elif "RunFragment" in query:
            inner = self._run(run, name, exported)
        elif "historyKeys" in query:
            inner = b'{"historyKeys":' + self._history_keys_json + b"}"
        else:
            return None
        return _wrap(inner)

    def _sampled(self, run: int, spec: dict[str, Any]) -> bytes:
        keys = [k for k in dict.fromkeys(spec["keys"]) if k != "_step"]
        lo, hi = int(spec.get("minStep", 0)), min(int(spec["maxStep"]), self.steps - 1)
        if len(keys) != 1 or hi - lo + 1 > int(spec["samples"]):
            raise ValueError(f"the null responder answers full pages of one key, not {spec}")
        return (b'{"sampledHistory":[[' + b",".join(self._rows[(run, keys[0])][lo:hi + 1])
                + b"]]}")

    def _run(self, run: int, name: str, exported: bool) -> bytes:
        return orjson.dumps({
            "projectId": "1", "id": f"run-{run}", "tags": [], "name": name,
            "displayName": name, "sweepName": None,
            "state": "finished" if exported else "running", "config": "{}", "group": None,
            "jobType": None, "commit": None, "readOnly": False,
            "createdAt": "2026-01-01T00:00:00", "heartbeatAt": "2026-01-01T00:00:00",
            "description": None, "notes": None, "systemMetrics": "{}",
            "summaryMetrics": "{}", "historyLineCount": self.steps,
            "user": {"name": "admin", "username": "admin"},
            "historyKeys": self._history_keys})


def _wrap(run: bytes) -> bytes:
    return b'{"data":{"project":{"run":' + run + b"}}}"
