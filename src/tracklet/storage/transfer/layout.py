"""The export folder: an open layout any tool can read (JSON, Parquet and plain files).

::

    DIR/
      manifest.json                    {"format": "tracklet-export", "version": 1,
                                        "export_id", "exported_at", "projects": [...]}
      blobs/<blob key>                 file, artifact-file and manifest bytes, by the key the
                                       rows below name (content-addressed: cas/ab/cd/<md5>)
      projects/<entity>/<project>/
        project.json                   the project and its entity
        runs/<run id>/
          history.parquet              the full history: one row per step, a column per key
                                       (W&B's own history layout: _step, _runtime, ...)
          history.keys.json            per key: the steps whose value is an int or an
                                       explicit null in a column of another type
          events.parquet               system metrics: line (int64), data (JSON text)
          console.parquet              console log: line (int64), text
          files.parquet                the run's files: name, blob_key, md5, size, ...
          run.json                     the run: config, summary, tags, notes, group, state,
                                       timestamps, metadata, its user's name (written last:
                                       its presence means the run's folder is complete)
        artifacts/<table>.parquet      artifact_types, artifact_collections, artifacts,
                                       artifact_memberships, artifact_aliases,
                                       artifact_files, artifact_usages, artifact_outputs:
                                       the rows of those tables with the source's ids, runs
                                       named by their run id (``run_name`` columns)
        artifacts.done                 written after the tables above

Ids other than run ids are the source deployment's; an import maps them to new ones.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = "tracklet-export"
VERSION = 1
MANIFEST = "manifest.json"
BLOBS = "blobs"
RUN_DONE = "run.json"
ARTIFACTS_DONE = "artifacts.done"
#: The artifact tables, in the order an import inserts them (each refers only to earlier ones).
ARTIFACT_TABLES = ("artifact_types", "artifact_collections", "artifacts", "artifact_memberships",
                   "artifact_aliases", "artifact_files", "artifact_usages", "artifact_outputs")


#: Called with (what, done, total) as an export or import advances.
Progress = Callable[[str, int, int], None]


def no_progress(_what: str, _done: int, _total: int) -> None:
    """A :data:`Progress` that shows nothing."""


def project_dir(root: Path, entity: str, project: str) -> Path:
    """The folder of one project."""
    return root / "projects" / entity / project


def run_dir(root: Path, entity: str, project: str, run: str) -> Path:
    """The folder of one run."""
    return project_dir(root, entity, project) / "runs" / run


def blob_path(root: Path, key: str) -> Path:
    """Where the bytes of blob ``key`` go."""
    path = (root / BLOBS / key).resolve()
    if (root / BLOBS).resolve() not in path.parents:
        raise ValueError(f"blob key {key!r} leaves the export folder")
    return path


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON, atomically (a crash leaves the old file or none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True, allow_nan=True))
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The JSON value of ``path``."""
    return json.loads(path.read_text())
