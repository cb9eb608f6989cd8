"""Reading typed values out of a mutation's ``input`` object, with the error a client sees."""

from __future__ import annotations

from typing import Any

from tracklet.errors import InvalidInput


def input_str(data: dict[str, Any], key: str, required: bool = False) -> str | None:
    """``data[key]`` as a string, or None when absent; anything but a string is refused."""
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string")
    return value


def nonblank_str(data: dict[str, Any], key: str) -> str | None:
    """Like :func:`input_str`, with the empty string read as absent (as W&B's forms send it)."""
    return input_str(data, key) or None
