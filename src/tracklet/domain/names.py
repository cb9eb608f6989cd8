"""Validation of user-chosen names: entities, projects, runs and run-relative file paths."""

from __future__ import annotations

import posixpath
import re

from tracklet.errors import InvalidInput

_NAME = re.compile(r"[A-Za-z0-9._\-]{1,128}")
_MAX_PATH = 1024
_MAX_RUN_NAME = 128
# The SDK refuses run ids with these; '%' and '\\' are refused too because run names travel
# unescaped in file_stream URL paths.
_RUN_NAME_RESERVED = frozenset(":;,#?/'%\\")
# Artifact tags as the SDK checks them: words of letters, digits, '_' or '-', single spaces.
_TAG = re.compile(r"[-\w]+( +[-\w]+)*")
_MAX_TAG = 128


def validate_name(kind: str, value: str) -> str:
    """Entity, project and run names: 1-128 of ``[A-Za-z0-9._-]``, not '.' or '..'."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value in {".", ".."}:
        raise InvalidInput(
            f"invalid {kind} name {value!r}: use 1-128 letters, digits, '.', '_' or '-'"
        )
    return value


def validate_run_name(value: str) -> str:
    """Run names (the SDK's run ids): 1-128 printable characters without ``:;,#?/'%\\``.

    Looser than entity and project names because the SDK accepts ids such as ``lr=0.1-seed-0``.
    """
    if (not isinstance(value, str) or not 0 < len(value) <= _MAX_RUN_NAME
            or value in {".", ".."} or value != value.strip() or not value.isprintable()
            or any(c in _RUN_NAME_RESERVED for c in value)):
        raise InvalidInput(
            f"invalid run name {value!r}: use 1-{_MAX_RUN_NAME} printable characters, no "
            "leading or trailing spaces, and none of : ; , # ? / ' % \\"
        )
    return value


def validate_tag(value: str) -> str:
    """Artifact tags: words of letters, digits, '_' or '-' separated by spaces; 1-128 chars."""
    if not isinstance(value, str) or len(value) > _MAX_TAG or not _TAG.fullmatch(value):
        raise InvalidInput(
            f"invalid tag {value!r}: use letters, digits, '-' and '_', words separated by "
            f"spaces, at most {_MAX_TAG} characters"
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
