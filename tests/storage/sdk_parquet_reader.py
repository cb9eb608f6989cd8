"""Read a history export with the wandb SDK's own Parquet reader (``librust_parquet_ffi``).

``scan_history`` in wandb 0.31 reads exported history through this native library (via
wandb-core); calling it directly here lets storage tests prove that what tracklet writes is
what the SDK can read, column types included. The binary result format is decoded below.
"""

from __future__ import annotations

import ctypes
import json
import struct
from pathlib import Path
from typing import Any

import wandb


class _ScanResult(ctypes.Structure):
    _fields_ = [("vec_ptr", ctypes.c_size_t), ("data_ptr", ctypes.c_size_t),
                ("data_len", ctypes.c_uint64), ("num_rows", ctypes.c_uint64)]


def _library() -> ctypes.CDLL:
    path = Path(wandb.__file__).parent / "bin" / "librust_parquet_ffi.so"
    lib = ctypes.CDLL(str(path))
    lib.create_reader.restype = ctypes.c_void_p
    lib.create_reader.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p),
                                  ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]
    lib.reader_scan_step_range.restype = ctypes.c_void_p
    lib.reader_scan_step_range.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                           ctypes.POINTER(_ScanResult)]
    lib.free_buffer.argtypes = [ctypes.c_void_p]
    lib.free_reader.argtypes = [ctypes.c_void_p]
    lib.free_string.argtypes = [ctypes.c_void_p]
    return lib


def scan(path_or_url: str, min_step: int, max_step: int,
         columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows with ``min_step <= _step < max_step`` as the SDK's reader returns them."""
    lib = _library()
    names = [c.encode() for c in columns or []]
    array = (ctypes.c_char_p * max(1, len(names)))(*names)
    err = ctypes.c_void_p()
    reader = lib.create_reader(path_or_url.encode(), array if names else None, len(names),
                               ctypes.byref(err))
    if not reader:
        message = ctypes.string_at(err.value).decode() if err.value else "unknown"
        raise RuntimeError(f"SDK reader refused the file: {message}")
    try:
        result = _ScanResult()
        failure = lib.reader_scan_step_range(reader, min_step, max_step, ctypes.byref(result))
        if failure:
            raise RuntimeError(ctypes.string_at(failure).decode())
        if result.num_rows == 0:
            return []
        data = ctypes.string_at(result.data_ptr, result.data_len)
        lib.free_buffer(result.vec_ptr)
        return _decode(data)
    finally:
        lib.free_reader(reader)


def _decode(data: bytes) -> list[dict[str, Any]]:
    pos = 0

    def u32() -> int:
        nonlocal pos
        (v,) = struct.unpack_from("<I", data, pos)
        pos += 4
        return int(v)

    def text() -> str:
        nonlocal pos
        n = u32()
        s = data[pos:pos + n].decode()
        pos += n
        return s

    def value() -> Any:
        nonlocal pos
        tag = data[pos]
        pos += 1
        if tag == 0:
            return None
        if tag in (1, 2, 3):
            (v,) = struct.unpack_from({1: "<q", 2: "<Q", 3: "<d"}[tag], data, pos)
            pos += 8
            return v
        if tag == 4:
            return text()
        if tag == 5:
            pos += 1
            return data[pos - 1] != 0
        if tag == 6:
            n = u32()
            pos += n
            return data[pos - n:pos]
        if tag == 7:
            return [value() for _ in range(u32())]
        if tag == 8:
            return {text(): value() for _ in range(u32())}
        raise ValueError(f"unknown type tag {tag}")

    columns = [text() for _ in range(u32())]
    rows = []
    for _ in range(u32()):
        rows.append({c: value() for c in columns})
    return rows


def as_sdk_row(row: dict[str, Any]) -> dict[str, Any]:
    """What Python finally sees: each value goes through JSON (Go marshal, Python loads)."""
    return {k: json.loads(json.dumps(v)) for k, v in row.items()}
