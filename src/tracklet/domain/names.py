"""Validation of user-chosen names: entities, projects, runs and run-relative file paths."""

from __future__ import annotations

import posixpath
import re

from tracklet.errors import InvalidInput

_NAME = re.compile(r"[A-Za-z0-9._\-]{1,128}")
_MAX_PATH = 1024


def validate_name(kind: str, value: str) -> str:
    """Entity, project and run names: 1-128 of ``[A-Za-z0-9._-]``, not '.' or '..'."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value in {".", ".."}:
        raise InvalidInput(
            f"invalid {kind} name {value!r}: use 1-128 letters, digits, '.', '_' or '-'"
        )
    return value


def validate_file_path(value: str) -> str:
    """A run-relative slash path: no absolute paths, no '..', no backslashes or NULs."""
    if not isinstance(value, str) or not value or len(value) > _MAX_PATH:
        raise InvalidInput(f"invalid file name {value!r}")
    if "\\" in value or "\x00" in value or value.startswith("/"):
        raise InvalidInput(f"invalid file name {value!r}: must be a relative slash path")
    parts = value.split("/")
    if any(p in {"", ".", ".."} for p in parts):
        raise InvalidInput(f"invalid file name {value!r}: no empty, '.' or '..' segments")
    if posixpath.normpath(value) != value:
        raise InvalidInput(f"invalid file name {value!r}")
    return value
