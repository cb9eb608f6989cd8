"""W&B's MongoDB-style run filters and orders, translated to SQL that runs in the database.

Filters (``api.runs(path, filters=...)``)::

    {"state": "finished", "config.lr": {"$gte": 0.01}, "$or": [{"tags": "best"}, ...]}

* Logical operators: ``$and``, ``$or``, ``$nor`` (lists of filters). Several keys in one
  object are ANDed.
* Field operators: ``$eq $ne $gt $gte $lt $lte $in $nin $regex`` (with ``$options: "i"``)
  ``$exists`` and ``$not``; a bare value means ``$eq``.
* Fields: ``name``, ``displayName``, ``state``, ``group``, ``jobType``, ``host``, ``notes``,
  ``description``, ``sweep``, ``username``, ``createdAt``, ``heartbeatAt``, ``updatedAt``
  (snake_case spellings too), ``tags`` (array semantics: ``{"tags": "x"}`` means "has tag
  x"), ``duration`` (``summary_metrics._runtime``), and paths into JSON:
  ``config.<key>[.<nested>...]`` (the value under W&B's ``{"value": ...}`` wrapper; an
  explicit ``config.<key>.value...`` means the same) and ``summary_metrics.<key>...``.

Comparisons are type-aware as in MongoDB and W&B: a number only compares with numbers, a
string with strings (``{"config.lr": "0.1"}`` does not match ``0.1``), a boolean with
booleans. ``$eq: null`` matches missing and null values; ``$ne`` and ``$nin`` match runs
where the field is missing. Dates compare as instants; give ISO-8601 text (UTC when no
offset) or Unix seconds.

Orders (``order="-summary_metrics.acc"``): ``+`` (default) or ``-`` then any field above.
JSON values sort numbers first, then strings, then booleans; runs where the value is
missing (or an object, array or null) come last in both directions. Ties are broken by
the run's id, and :func:`keyset_after` continues after a cursor without offsets.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    false,
    func,
    literal,
    not_,
    or_,
    true,
)

from tracklet.errors import InvalidInput
from tracklet.storage.metadata.jsonsql import (
    JsonArrayHas,
    JsonArrayMatches,
    JsonBool,
    JsonKind,
    JsonNumber,
    JsonSortNumber,
    JsonSortRank,
    JsonSortText,
    JsonString,
    check_path,
    definite,
    regex_match,
)
from tracklet.storage.metadata.regex import check_pattern
from tracklet.storage.metadata.tables import runs, users

MAX_NODES = 2000
MAX_DEPTH = 32

_LOGICAL = ("$and", "$or", "$nor")
_FIELD_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex",
              "$options", "$exists", "$not")

# Plain columns: filter name -> (column, kind). Kinds: "text" or "time" (Unix seconds).
_COLUMNS: dict[str, tuple[ColumnElement[Any], str]] = {}
for _names, _col, _kind in [
    (("name", "id", "run_id"), runs.c.name, "text"),
    (("displayName", "display_name"), runs.c.display_name, "text"),
    (("state",), runs.c.state, "text"),
    (("group", "group_name", "groupName"), runs.c.group_name, "text"),
    (("jobType", "job_type"), runs.c.job_type, "text"),
    (("host",), runs.c.host, "text"),
    (("notes",), runs.c.notes, "text"),
    (("description",), runs.c.description, "text"),
    (("sweep", "sweepName", "sweep_name"), runs.c.sweep_name, "text"),
    (("username", "user", "user.username"), users.c.username, "text"),
    (("createdAt", "created_at"), runs.c.created_at, "time"),
    (("heartbeatAt", "heartbeat_at"), runs.c.heartbeat_at, "time"),
    (("updatedAt", "updated_at"), runs.c.updated_at, "time"),
]:
    for _name in _names:
        _COLUMNS[_name] = (_col, _kind)

_JSON_PREFIXES = {
    "config": "config",
    "summary_metrics": "summary",
    "summaryMetrics": "summary",
    "summary": "summary",
}


def json_document(column: str) -> ColumnElement[Any]:
    """The strict-JSON text of ``runs.<column>`` (its shadow when the raw text is not strict)."""
    raw = runs.c[column]
    shadow = runs.c[f"{column}_strict"]
    return func.coalesce(shadow, raw)


@dataclass(frozen=True)
class Field:
    """Where a filter or order key points: a plain column, the tags array or a JSON path."""

    name: str
    column: ColumnElement[Any] | None = None
    kind: str = "text"
    document: str | None = None
    path: tuple[str, ...] = ()

    @property
    def is_json(self) -> bool:
        return self.document is not None

    @property
    def col(self) -> ColumnElement[Any]:
        """The plain column (only for text and time fields)."""
        assert self.column is not None
        return self.column


def resolve_field(name: str) -> Field:
    """The field a filter/order key names; InvalidInput for unknown keys."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("filter and order keys must be non-empty strings")
    if name in _COLUMNS:
        column, kind = _COLUMNS[name]
        return Field(name, column=column, kind=kind)
    if name == "tags":
        return Field(name, kind="tags")
    if name == "duration":
        return Field(name, kind="json", document="summary", path=("_runtime",))
    prefix, _, rest = name.partition(".")
    if prefix in _JSON_PREFIXES and rest:
        parts = rest.split(".")
        if any(not p for p in parts):
            raise InvalidInput(f"invalid key {name!r}: empty path segment")
        document = _JSON_PREFIXES[prefix]
        if document == "config":
            # Config values are stored as {"key": {"value": v}}; config.key means v.
            if len(parts) > 1 and parts[1] == "value":
                parts = [parts[0], *parts[2:]]
            path = (parts[0], "value", *parts[1:])
        else:
            path = tuple(parts)
        return Field(name, kind="json", document=document, path=check_path(path))
    raise InvalidInput(
        f"unknown filter field {name!r}: use a run field (name, displayName, state, group, "
        "jobType, tags, createdAt, heartbeatAt, username, ...) or config.<key> / "
        "summary_metrics.<key>"
    )


# -- filters ----------------------------------------------------------------------------------


def parse_filters(text: str | dict[str, Any] | None) -> dict[str, Any]:
    """The filter object from the GraphQL ``filters`` JSONString; InvalidInput when malformed."""
    if text is None or text == "":
        return {}
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        raise InvalidInput("filters must be a JSON object")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"filters are not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput("filters must be a JSON object, e.g. {\"state\": \"finished\"}")
    return value


class _Compiler:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.nodes = 0

    def tick(self, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise InvalidInput(f"filters are too large (more than {MAX_NODES} conditions)")
        if depth > MAX_DEPTH:
            raise InvalidInput(f"filters are nested too deeply (more than {MAX_DEPTH} levels)")

    def document(self, filters: Any, depth: int = 0) -> ColumnElement[bool]:
        self.tick(depth)
        if not isinstance(filters, dict):
            raise InvalidInput(f"a filter must be a JSON object, got {_show(filters)}")
        clauses = [self.entry(key, value, depth) for key, value in filters.items()]
        return and_(true(), *clauses) if clauses else true()

    def entry(self, key: str, value: Any, depth: int) -> ColumnElement[bool]:
        if key in _LOGICAL:
            if not isinstance(value, list) or not value:
                raise InvalidInput(f"{key} needs a non-empty list of filters")
            parts = [definite(self.document(v, depth + 1)) for v in value]
            if key == "$and":
                return and_(*parts)
            if key == "$or":
                return or_(*parts)
            return not_(or_(*parts))
        if key.startswith("$"):
            raise InvalidInput(
                f"unknown filter operator {key!r} at the top level "
                f"(use $and, $or, $nor, or a field name)"
            )
        return self.condition(resolve_field(key), value, depth + 1)

    def condition(self, field: Field, value: Any, depth: int) -> ColumnElement[bool]:
        self.tick(depth)
        if isinstance(value, dict) and any(k.startswith("$") for k in value):
            bad = [k for k in value if k not in _FIELD_OPS]
            if bad:
                raise InvalidInput(
                    f"unknown filter operator {bad[0]!r} for {field.name!r} "
                    f"(supported: {', '.join(o for o in _FIELD_OPS if o != '$options')})"
                )
            options = value.get("$options", "")
            if "$options" in value and "$regex" not in value:
                raise InvalidInput("$options is only valid together with $regex")
            parts = [self.operator(field, op, arg, options, depth)
                     for op, arg in value.items() if op != "$options"]
            return and_(*parts)
        return self.operator(field, "$eq", value, "", depth)

    def operator(self, field: Field, op: str, arg: Any, options: Any,
                 depth: int) -> ColumnElement[bool]:
        if op == "$eq":
            return definite(self.eq(field, arg))
        if op == "$ne":
            return not_(definite(self.eq(field, arg)))
        if op in ("$in", "$nin"):
            if not isinstance(arg, list):
                raise InvalidInput(f"{op} for {field.name!r} needs a list of values")
            if len(arg) > 1000:
                raise InvalidInput(f"{op} accepts at most 1000 values")
            any_of = or_(false(), *[definite(self.eq(field, v)) for v in arg])
            return any_of if op == "$in" else not_(any_of)
        if op in ("$gt", "$gte", "$lt", "$lte"):
            return definite(self.compare(field, op, arg))
        if op == "$exists":
            if not isinstance(arg, bool):
                raise InvalidInput(f"$exists for {field.name!r} needs true or false")
            present = self.exists(field)
            return present if arg else not_(present)
        if op == "$regex":
            return definite(self.regex(field, arg, options))
        if op == "$not":
            if not isinstance(arg, dict) or not arg:
                raise InvalidInput(f"$not for {field.name!r} needs an object of operators")
            return not_(definite(self.condition(field, arg, depth + 1)))
        raise InvalidInput(f"unknown filter operator {op!r}")  # pragma: no cover

    # Each of these returns a boolean expression that may be NULL where it does not apply;
    # callers wrap it in definite() so NULL counts as "does not match".

    def eq(self, field: Field, value: Any) -> ColumnElement[Any]:
        if field.kind == "tags":
            if isinstance(value, str):
                return JsonArrayHas(runs.c.tags, (), value)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return runs.c.tags == orjson.dumps(value).decode()
            if value is None:
                return false()
            raise InvalidInput(f"tags compare with strings, got {_show(value)}")
        if field.is_json:
            return self.json_eq(field, value)
        if value is None:
            return field.col.is_(None)
        if field.kind == "time":
            return field.col == _instant(field.name, value)
        if isinstance(value, str):
            return field.col == value
        if isinstance(value, (bool, int, float)):
            return false()  # a text field never equals a number or boolean
        raise InvalidInput(f"cannot compare {field.name!r} with {_show(value)}")

    def json_eq(self, field: Field, value: Any) -> ColumnElement[Any]:
        doc = json_document(str(field.document))
        if value is None:
            kind = JsonKind(doc, field.path)
            return or_(kind.is_(None), kind == "null")
        if isinstance(value, bool):
            return JsonBool(doc, field.path) == value
        if isinstance(value, (int, float)):
            return JsonNumber(doc, field.path) == _number(value)
        if isinstance(value, str):
            return JsonString(doc, field.path) == value
        raise InvalidInput(
            f"cannot compare {field.name!r} with an object or list; compare its keys instead "
            f"(e.g. {field.name}.<key>)"
        )

    def compare(self, field: Field, op: str, value: Any) -> ColumnElement[Any]:
        fn: Callable[[Any, Any], ColumnElement[Any]] = {
            "$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
            "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b,
        }[op]
        if field.kind == "tags":
            raise InvalidInput(f"{op} does not apply to tags; use $in, $nin or $regex")
        if value is None:
            # As in MongoDB: $gte/$lte null match null and missing, $gt/$lt null nothing.
            return self.eq(field, None) if op in ("$gte", "$lte") else false()
        if isinstance(value, (list, dict)):
            raise InvalidInput(f"{op} for {field.name!r} needs a number, string or date")
        if field.is_json:
            doc = json_document(str(field.document))
            if isinstance(value, bool):
                return fn(JsonBool(doc, field.path), value)
            if isinstance(value, (int, float)):
                return fn(JsonNumber(doc, field.path), _number(value))
            return fn(JsonString(doc, field.path), value)
        if field.kind == "time":
            return fn(field.col, _instant(field.name, value))
        if isinstance(value, str):
            return fn(field.col, value)
        return false()

    def exists(self, field: Field) -> ColumnElement[bool]:
        if field.kind == "tags":
            return true()
        if field.is_json:
            return JsonKind(json_document(str(field.document)), field.path).is_not(None)
        return field.col.is_not(None)

    def regex(self, field: Field, pattern: Any, options: Any) -> ColumnElement[Any]:
        if not isinstance(pattern, str):
            raise InvalidInput(f"$regex for {field.name!r} needs a pattern string")
        if not isinstance(options, str) or set(options) - {"i"}:
            raise InvalidInput("$options supports only 'i' (case-insensitive)")
        ignore_case = "i" in options
        check_pattern(pattern, ignore_case)
        if field.kind == "tags":
            return JsonArrayMatches(runs.c.tags, (), pattern, ignore_case)
        if field.is_json:
            target: ColumnElement[Any] = JsonString(json_document(str(field.document)),
                                                    field.path)
        elif field.kind == "time":
            raise InvalidInput(f"$regex does not apply to {field.name!r}; use $gt/$lt")
        else:
            target = field.col
        return regex_match(target, pattern, ignore_case, self.dialect)


def filter_clause(filters: dict[str, Any], dialect: str) -> ColumnElement[bool]:
    """The WHERE clause for a parsed filter object, for the ``dialect`` in use."""
    return definite(_Compiler(dialect).document(filters))


def _number(value: int | float) -> float | int:
    # Beyond 64 bits neither backend holds the value exactly; compare as a float.
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)
    return value


def _instant(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidInput(f"{name!r} needs a date, got {_show(value)}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                f"{name!r} needs an ISO-8601 date like 2024-01-31T12:00:00Z, got {value!r}"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return when.timestamp()
    raise InvalidInput(f"{name!r} needs a date, got {_show(value)}")


def _show(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= 60 else text[:57] + "..."


# -- orders and keyset cursors ----------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """A sort: the field, its direction, and the SQL sort keys ending with the run id."""

    spec: str
    field: Field
    descending: bool

    def keys(self) -> list[tuple[ColumnElement[Any], bool]]:
        """(expression, descending) pairs; the first may sort ascending regardless."""
        d = self.descending
        f = self.field
        if f.is_json:
            doc = json_document(str(f.document))
            return [(JsonSortRank(doc, f.path), False), (JsonSortNumber(doc, f.path), d),
                    (JsonSortText(doc, f.path), d), (runs.c.id, d)]
        if f.kind == "tags":
            return [(runs.c.tags, d), (runs.c.id, d)]
        if f.kind == "time":
            return [(f.col, d), (runs.c.id, d)]
        missing = case((f.col.is_(None), 1), else_=0)
        return [(missing, False), (func.coalesce(f.col, ""), d), (runs.c.id, d)]

    def order_by(self) -> list[ColumnElement[Any]]:
        """ORDER BY terms."""
        return [e.desc() if desc else e.asc() for e, desc in self.keys()]


def parse_order(spec: str | None) -> Order:
    """``+field`` / ``-field`` / ``field``; empty means ``+created_at``."""
    text = (spec or "").strip() or "+created_at"
    descending = text.startswith("-")
    name = text[1:] if text[0] in "+-" else text
    return Order(text, resolve_field(name.strip()), descending)


def keyset_after(order: Order, cursor: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after the row whose sort-key values are ``cursor``."""
    keys = order.keys()
    if len(cursor) != len(keys):
        raise InvalidInput("cursor does not belong to this order; start again without it")
    clauses = []
    for i, (expr, desc) in enumerate(keys):
        value = literal(cursor[i]) if not isinstance(cursor[i], (int, float)) else cursor[i]
        step = expr < value if desc else expr > value
        equal = [keys[j][0] == cursor[j] for j in range(i)]
        clauses.append(and_(*equal, step))
    return or_(*clauses)


def encode_cursor(order: Order, values: Sequence[Any]) -> str:
    """An opaque cursor for the row with sort-key ``values``."""
    body = orjson.dumps({"o": order.spec, "v": [_plain(v) for v in values]})
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def decode_cursor(order: Order, cursor: str) -> list[Any]:
    """The sort-key values inside ``cursor``; InvalidInput when it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise InvalidInput("invalid cursor") from None
    if not isinstance(body, dict) or not isinstance(body.get("v"), list):
        raise InvalidInput("invalid cursor")
    if body.get("o") != order.spec:
        raise InvalidInput("cursor was made for another order; start again without it")
    values = body["v"]
    if not all(v is None or isinstance(v, (str, int, float)) for v in values):
        raise InvalidInput("invalid cursor")
    return list(values)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, bool):
        return int(value)
    return float(value)
