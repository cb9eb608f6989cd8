"""Custom scalars: JSONString travels as a string, DateTime as ISO-8601, Int64 as a number."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ariadne import ScalarType

from tracklet.storage.history.jsonline import dumps, loads

json_string = ScalarType("JSONString")
date_time = ScalarType("DateTime")
json_value = ScalarType("JSON")
int64 = ScalarType("Int64")
duration = ScalarType("Duration")


@json_string.serializer
def _serialize_json_string(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)


@json_string.value_parser
def _parse_json_string(value: Any) -> Any:
    # Kept as the client's text: resolvers decide whether to parse, so NaN and big ints survive.
    return value


@json_value.serializer
def _serialize_json(value: Any) -> Any:
    return value


@json_value.value_parser
def _parse_json(value: Any) -> Any:
    return loads(value) if isinstance(value, str) else value


def iso(ts: float) -> str:
    """Unix seconds as W&B's DateTime text (UTC, no offset)."""
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@date_time.serializer
def _serialize_date_time(value: Any) -> Any:
    if isinstance(value, (int, float)):
        return iso(float(value))
    return value


@int64.serializer
def _serialize_int64(value: Any) -> Any:
    return value


@int64.value_parser
def _parse_int64(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("Int64 must be an integer")
    return int(value)


SCALARS = [json_string, date_time, json_value, int64, duration]
