"""Typed reads of JSON held in TEXT columns, as SQL that compiles for SQLite and PostgreSQL.

Each construct takes a document expression (TEXT holding strict JSON) and a key path, and
compiles to ``json_type``/``json_extract``/``json_each`` on SQLite and to ``jsonb`` operators
on PostgreSQL. Every value read is typed: :class:`JsonNumber` is NULL unless the value is a
JSON number, :class:`JsonString` unless it is a string, and so on, which is what makes
comparisons type-aware (a string never equals or exceeds a number). :class:`JsonKind` names
the type with one vocabulary on both backends: ``number``, ``string``, ``boolean``, ``null``,
``array``, ``object``, or NULL when the path is missing. Paths are always bound parameters,
never spliced into the SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from tracklet.errors import InvalidInput
from tracklet.storage.metadata.regex import check_pattern

Path = tuple[str, ...]

KINDS = ("number", "string", "boolean", "null", "array", "object")


def check_path(path: Sequence[str]) -> Path:
    """A key path usable on both backends; InvalidInput for keys SQLite cannot address."""
    for key in path:
        if not isinstance(key, str) or '"' in key or "\\" in key:
            raise InvalidInput(f"unsupported key {key!r} in a filter or order path")
    return tuple(path)


def _sqlite_path(path: Path) -> str:
    return "$" + "".join(f'."{key}"' for key in path)


class _JsonOp(FunctionElement[Any]):
    """Base: a document (TEXT, strict JSON) and a key path."""

    inherit_cache = False

    def __init__(self, doc: ColumnElement[Any], path: Sequence[str]) -> None:
        self.doc = doc
        self.path = check_path(path)
        super().__init__()


class JsonKind(_JsonOp):
    """The JSON type at ``path`` (one of :data:`KINDS`), NULL when missing."""

    inherit_cache = False

    type = String()
    name = "json_kind"


class JsonNumber(_JsonOp):
    """The number at ``path``, NULL when missing or not a number."""

    inherit_cache = False

    type = Float()
    name = "json_number"


class JsonString(_JsonOp):
    """The string at ``path``, NULL when missing or not a string."""

    inherit_cache = False

    type = Text()
    name = "json_string"


class JsonBool(_JsonOp):
    """The boolean at ``path``, NULL when missing or not a boolean."""

    inherit_cache = False

    type = Boolean()
    name = "json_bool"


class JsonSortRank(_JsonOp):
    """Sort group of the value: 0 number, 1 string, 2 boolean, 3 anything else/missing."""

    inherit_cache = False

    type = Integer()
    name = "json_sort_rank"


class JsonSortNumber(_JsonOp):
    """Sort value for numbers (and booleans as 0/1); 0 otherwise. Never NULL."""

    inherit_cache = False

    type = Float()
    name = "json_sort_number"


class JsonSortText(_JsonOp):
    """Sort value for strings; ``''`` otherwise. Never NULL."""

    inherit_cache = False

    type = Text()
    name = "json_sort_text"


class JsonArrayHas(_JsonOp):
    """True when the value at ``path`` is an array holding the string ``value``."""

    inherit_cache = False

    type = Boolean()
    name = "json_array_has"

    def __init__(self, doc: ColumnElement[Any], path: Sequence[str], value: str) -> None:
        super().__init__(doc, path)
        self.value = value


class JsonArrayMatches(_JsonOp):
    """True when the value at ``path`` is an array with a string matching ``pattern``."""

    inherit_cache = False

    type = Boolean()
    name = "json_array_matches"

    def __init__(self, doc: ColumnElement[Any], path: Sequence[str], pattern: str,
                 ignore_case: bool = False) -> None:
        super().__init__(doc, path)
        self.pattern = pattern
        self.ignore_case = ignore_case


def regex_match(expr: ColumnElement[Any], pattern: str, ignore_case: bool,
                dialect_name: str) -> ColumnElement[bool]:
    """``expr`` matches ``pattern``: RE2 on SQLite, PostgreSQL's ARE engine there, once the
    pattern passed :func:`.regex.check_pattern` (see that module for why)."""
    full = check_pattern(pattern, ignore_case)
    if dialect_name == "sqlite":
        matched: ColumnElement[bool] = func.tracklet_regexp(
            bindparam(None, full, String()), expr, type_=Boolean())
        return matched
    return expr.regexp_match(pattern, flags="i" if ignore_case else None)


# -- SQLite -----------------------------------------------------------------------------------


def _sqlite_type(op: _JsonOp) -> ColumnElement[Any]:
    return func.json_type(op.doc, bindparam(None, _sqlite_path(op.path), String()))


def _sqlite_extract(op: _JsonOp) -> ColumnElement[Any]:
    return func.json_extract(op.doc, bindparam(None, _sqlite_path(op.path), String()))


# "CASE x WHEN ..." evaluates x once; each json_* call costs a lookup in the document.


@compiles(JsonKind, "sqlite")
def _kind_sqlite(op: JsonKind, compiler: SQLCompiler, **kw: Any) -> str:
    expr = case({"integer": "number", "real": "number", "text": "string", "true": "boolean",
                 "false": "boolean", "null": "null", "array": "array", "object": "object"},
                value=_sqlite_type(op))
    return compiler.process(expr, **kw)


@compiles(JsonNumber, "sqlite")
def _number_sqlite(op: JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    extract = _sqlite_extract(op)
    expr = case({"integer": extract, "real": extract}, value=_sqlite_type(op))
    return compiler.process(expr, **kw)


@compiles(JsonString, "sqlite")
def _string_sqlite(op: JsonString, compiler: SQLCompiler, **kw: Any) -> str:
    expr = case({"text": _sqlite_extract(op)}, value=_sqlite_type(op))
    return compiler.process(expr, **kw)


@compiles(JsonBool, "sqlite")
def _bool_sqlite(op: JsonBool, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(case({"true": 1, "false": 0}, value=_sqlite_type(op)), **kw)


@compiles(JsonSortRank, "sqlite")
def _rank_sqlite(op: JsonSortRank, compiler: SQLCompiler, **kw: Any) -> str:
    expr = case({"integer": 0, "real": 0, "text": 1, "true": 2, "false": 2},
                value=_sqlite_type(op), else_=3)
    return compiler.process(expr, **kw)


@compiles(JsonSortNumber, "sqlite")
def _sort_number_sqlite(op: JsonSortNumber, compiler: SQLCompiler, **kw: Any) -> str:
    extract = _sqlite_extract(op)
    expr = case({"integer": extract, "real": extract, "true": 1}, value=_sqlite_type(op),
                else_=0)
    return compiler.process(expr, **kw)


@compiles(JsonSortText, "sqlite")
def _sort_text_sqlite(op: JsonSortText, compiler: SQLCompiler, **kw: Any) -> str:
    expr = case({"text": _sqlite_extract(op)}, value=_sqlite_type(op), else_="")
    return compiler.process(expr, **kw)


def _sqlite_each(op: _JsonOp) -> Any:
    return func.json_each(op.doc, bindparam(None, _sqlite_path(op.path), String())).table_valued(
        "type", "value")


@compiles(JsonArrayHas, "sqlite")
def _array_has_sqlite(op: JsonArrayHas, compiler: SQLCompiler, **kw: Any) -> str:
    each = _sqlite_each(op)
    expr = and_(
        _sqlite_type(op) == "array",
        exists(select(literal_column("1")).select_from(each)
               .where(each.c.type == "text", each.c.value == bindparam(None, op.value, String()))),
    )
    return compiler.process(expr, **kw)


@compiles(JsonArrayMatches, "sqlite")
def _array_matches_sqlite(op: JsonArrayMatches, compiler: SQLCompiler, **kw: Any) -> str:
    each = _sqlite_each(op)
    expr = and_(
        _sqlite_type(op) == "array",
        exists(select(literal_column("1")).select_from(each)
               .where(each.c.type == "text",
                      regex_match(each.c.value, op.pattern, op.ignore_case, "sqlite"))),
    )
    return compiler.process(expr, **kw)


# -- PostgreSQL -------------------------------------------------------------------------------


def _pg_value(op: _JsonOp) -> ColumnElement[Any]:
    doc = cast(op.doc, JSONB)
    return doc.op("#>")(bindparam(None, list(op.path), ARRAY(Text())))


def _pg_text(op: _JsonOp) -> ColumnElement[Any]:
    doc = cast(op.doc, JSONB)
    return doc.op("#>>")(bindparam(None, list(op.path), ARRAY(Text())))


def _pg_type(op: _JsonOp) -> ColumnElement[Any]:
    return func.jsonb_typeof(_pg_value(op))


@compiles(JsonKind, "postgresql")
def _kind_pg(op: JsonKind, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(_pg_type(op), **kw)


@compiles(JsonNumber, "postgresql")
def _number_pg(op: JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    # CASE guarantees the cast only runs on numbers (AND would not).
    expr = case((_pg_type(op) == "number", cast(_pg_text(op), Float())))
    return compiler.process(expr, **kw)


@compiles(JsonString, "postgresql")
def _string_pg(op: JsonString, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(case((_pg_type(op) == "string", _pg_text(op))), **kw)


@compiles(JsonSortRank, "postgresql")
def _rank_pg(op: JsonSortRank, compiler: SQLCompiler, **kw: Any) -> str:
    expr = case({"number": 0, "string": 1, "boolean": 2}, value=_pg_type(op), else_=3)
    return compiler.process(expr, **kw)


@compiles(JsonSortNumber, "postgresql")
def _sort_number_pg(op: JsonSortNumber, compiler: SQLCompiler, **kw: Any) -> str:
    text_value = _pg_text(op)
    expr = case({"number": cast(text_value, Float()),
                 "boolean": case((text_value == "true", 1.0), else_=0.0)},
                value=_pg_type(op), else_=0.0)
    return compiler.process(expr, **kw)


@compiles(JsonSortText, "postgresql")
def _sort_text_pg(op: JsonSortText, compiler: SQLCompiler, **kw: Any) -> str:
    expr = case({"string": _pg_text(op)}, value=_pg_type(op), else_="")
    return compiler.process(expr, **kw)


@compiles(JsonBool, "postgresql")
def _bool_pg(op: JsonBool, compiler: SQLCompiler, **kw: Any) -> str:
    expr = case((_pg_type(op) == "boolean", cast(_pg_text(op), Boolean())))
    return compiler.process(expr, **kw)


def _pg_elements(op: _JsonOp) -> Any:
    array = case((_pg_type(op) == "array", _pg_value(op)))
    return func.jsonb_array_elements(array).table_valued("value")


@compiles(JsonArrayHas, "postgresql")
def _array_has_pg(op: JsonArrayHas, compiler: SQLCompiler, **kw: Any) -> str:
    elements = _pg_elements(op)
    element = elements.c.value
    expr = exists(select(literal_column("1")).select_from(elements).where(
        func.jsonb_typeof(element) == "string",
        element.op("#>>")(cast(literal_column("'{}'"), ARRAY(Text())))
        == bindparam(None, op.value, String()),
    ))
    return compiler.process(expr, **kw)


@compiles(JsonArrayMatches, "postgresql")
def _array_matches_pg(op: JsonArrayMatches, compiler: SQLCompiler, **kw: Any) -> str:
    elements = _pg_elements(op)
    element = elements.c.value
    text = element.op("#>>")(cast(literal_column("'{}'"), ARRAY(Text())))
    expr = exists(select(literal_column("1")).select_from(elements).where(
        func.jsonb_typeof(element) == "string",
        regex_match(text, op.pattern, op.ignore_case, "postgresql"),
    ))
    return compiler.process(expr, **kw)


def definite(expr: ColumnElement[Any]) -> ColumnElement[bool]:
    """``expr IS TRUE``: NULL (unknown) counts as false, so NOT behaves as in Mongo."""
    return expr.is_(true())
