"""The run journal: a crash-safe, append-only file of everything a run logged.

Each record is ``length (u32) | crc32 (u32) | sequence (u64) | payload``, big-endian, the
checksum covering the sequence number and the payload. Sequence numbers start at 0 and go up
by one. Reading stops at the first record that is short, fails its checksum or breaks the
sequence: that is a torn tail from a crash mid-write; :meth:`Journal.open_for_append` cuts it
off, so it is never replayed and never followed by a valid-looking record.

Durability: records are written to the OS in batches by the uploader thread (so they
survive the process being killed) and fsynced when the run finishes; a machine crash may
lose the last batches, never corrupt earlier ones.

The payload's first byte is its kind; the rest is JSON text:

- ``r`` the run (project, entity, name, config, tags...) — always record 0;
- ``h`` history rows, the JSON lines exactly as they are sent, joined by newlines (JSON
  text has none of its own);
- ``s`` a summary patch (keys set explicitly, beside the last logged values);
- ``c`` a config patch;
- ``o`` console lines (``output.log``), joined by newlines;
- ``u`` a run file to upload (its name; the bytes are in ``<run dir>/files/<name>``);
- ``A`` an artifact logged or used (``{"op": "log"|"use", ...}``, see client.artifacts);
- ``a`` an alert (``{"title", "text", "severity", "wait_ms"}``);
- ``f`` the end of the run (``{"exit_code": n}``).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

_HEADER = struct.Struct(">IIQ")
#: A record longer than this is not one the client wrote: the length field itself is torn.
MAX_RECORD = 256 * 1024 * 1024

RUN = b"r"
HISTORY = b"h"
SUMMARY = b"s"
CONFIG = b"c"
FINISH = b"f"
FILE = b"u"
CONSOLE = b"o"
ALERT = b"a"
ARTIFACT = b"A"

JOURNAL_NAME = "run.journal"


def encode(seq: int, payload: bytes) -> bytes:
    """One framed record."""
    seq_bytes = seq.to_bytes(8, "big")
    crc = zlib.crc32(payload, zlib.crc32(seq_bytes))
    return _HEADER.pack(len(payload), crc, seq) + payload


def read_records(path: Path) -> tuple[list[bytes], int]:
    """The payloads of every whole record in order, and the byte length they span (where a
    torn tail, if any, begins)."""
    data = path.read_bytes()
    payloads: list[bytes] = []
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc, seq = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if length > MAX_RECORD or end > len(data) or seq != len(payloads):
            break
        payload = data[pos + _HEADER.size:end]
        if zlib.crc32(payload, zlib.crc32(seq.to_bytes(8, "big"))) != crc:
            break
        payloads.append(payload)
        pos = end
    return payloads, pos


@dataclass
class Replay:
    """A journal read back: what the run was and everything it logged, in order."""

    run: dict[str, Any]
    history: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    #: Console lines, each as output.log holds it (an ISO time, then the text).
    console: list[str] = field(default_factory=list)
    #: Run files to upload, by name under ``<run dir>/files``, in first-saved order.
    files: list[str] = field(default_factory=list)
    #: Alerts raised, in order (``{"title", "text", "severity", "wait_ms"}``).
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: Artifacts logged or used, in order.
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    #: Records read; the next record's sequence number.
    records: int = 0

    @property
    def finished(self) -> bool:
        """Whether the run's finish record is in the journal."""
        return self.exit_code is not None


def replay(path: Path) -> Replay:
    """Read the journal at ``path`` (its torn tail ignored). ``ValueError`` when it holds no
    run record, i.e. is not a journal."""
    payloads, _ = read_records(path)
    if not payloads or payloads[0][:1] != RUN:
        raise ValueError(f"{path} is not a tracklet run journal")
    run = json.loads(payloads[0][1:])
    result = Replay(run=run, config=dict(run.get("config") or {}), records=len(payloads))
    for payload in payloads[1:]:
        kind, body = payload[:1], payload[1:]
        if kind == HISTORY:
            result.history.extend(body.decode("utf-8").split("\n"))
        elif kind == SUMMARY:
            result.summary.update(json.loads(body))
        elif kind == CONFIG:
            result.config.update(json.loads(body))
        elif kind == CONSOLE:
            result.console.extend(body.decode("utf-8").split("\n"))
        elif kind == FILE:
            name = body.decode("utf-8")
            if name not in result.files:
                result.files.append(name)
        elif kind == ARTIFACT:
            result.artifacts.append(json.loads(body))
        elif kind == ALERT:
            result.alerts.append(json.loads(body))
        elif kind == FINISH:
            result.exit_code = int(json.loads(body)["exit_code"])
    return result


class Journal:
    """The writer of one run's journal. Not thread-safe: the uploader thread owns it."""

    def __init__(self, path: Path, file: BinaryIO, next_seq: int) -> None:
        self.path = path
        self._file = file
        self.next_seq = next_seq

    @classmethod
    def create(cls, path: Path, run: dict[str, Any]) -> Journal:
        """A new journal at ``path`` starting with the run record (synced to disk)."""
        file = path.open("xb")
        journal = cls(path, file, 0)
        journal.append([RUN + json.dumps(run).encode("utf-8")])
        journal.sync()
        return journal

    @classmethod
    def open_for_append(cls, path: Path) -> Journal:
        """Reopen an existing journal, cutting off a torn tail first."""
        payloads, good = read_records(path)
        file = path.open("r+b")
        file.truncate(good)
        file.seek(good)
        return cls(path, file, len(payloads))

    def append(self, payloads: list[bytes]) -> None:
        """Append records (one write call; flushed to the OS, not fsynced)."""
        if not payloads:
            return
        out = []
        for payload in payloads:
            out.append(encode(self.next_seq, payload))
            self.next_seq += 1
        self._file.write(b"".join(out))
        self._file.flush()

    def sync(self) -> None:
        """fsync: what was appended survives a machine crash too."""
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Sync and close the file."""
        if not self._file.closed:
            self.sync()
            self._file.close()
