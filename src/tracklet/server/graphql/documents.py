"""Parsed and validated GraphQL documents, kept per schema.

The SDK sends the same few dozen documents over and over: parsing and validating one costs
more than answering a 1,000-row history page, so both are done once per distinct text. The
cache belongs to the schema it validated against (``schema.extensions``): ``build_schema``
runs once per app in its lifespan (``AppState.schema``), so two apps in one process never
share documents, and a validation result is never reused against another schema.

The cache is bounded by entries and by the characters of the texts it holds; a document is
parsed with a token limit, and the server's cost limits (:mod:`.cost`) are validation rules,
so a valid document's measure is computed once. An invalid document is dropped from the
cache once refused (see :meth:`DocumentCache._forget`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    TypeInfo,
    parse,
    specified_rules,
    validate,
)

from tracklet.server.graphql.cost import QueryLimits, cost_rule

#: Distinct document texts kept per schema.
DOCUMENT_CACHE = 512
#: Characters of document text kept per schema (a parse tree is a few dozen times larger).
DOCUMENT_CACHE_CHARS = 2 * 1024 * 1024
_EXTENSION = "tracklet.documents"


@dataclass
class _Entry:
    text: str
    document: DocumentNode
    errors: list[GraphQLError] | None = None


class DocumentCache:
    """A least-recently-used map from document text to its parse tree and validation
    errors against one schema. Thread-safe (requests execute in worker threads)."""

    def __init__(self, schema: GraphQLSchema, size: int = DOCUMENT_CACHE,
                 limits: QueryLimits | None = None,
                 max_chars: int = DOCUMENT_CACHE_CHARS) -> None:
        self.schema = schema
        self.size = size
        self.max_chars = max_chars
        self.limits = limits or QueryLimits()
        self.cost_rule = cost_rule(self.limits)
        self._chars = 0
        self._texts: OrderedDict[str, _Entry] = OrderedDict()
        self._documents: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._texts)

    def parse(self, _context: Any, data: dict[str, Any]) -> DocumentNode:
        """The parse tree of ``data["query"]`` (an ariadne ``QueryParser``)."""
        text = data["query"]
        with self._lock:
            entry = self._texts.get(text)
            if entry is not None:
                self._texts.move_to_end(text)
                return entry.document
        document = parse(text, max_tokens=self.limits.max_tokens)
        if len(text) > self.max_chars // 16:
            return document  # parsed every time rather than crowding out the SDK's documents
        with self._lock:
            entry = self._texts.get(text)
            if entry is not None:  # another thread parsed it meanwhile
                return entry.document
            entry = self._texts[text] = _Entry(text, document)
            self._documents[id(document)] = entry
            self._chars += len(text)
            while len(self._texts) > self.size or self._chars > self.max_chars:
                old_text, old = self._texts.popitem(last=False)
                self._chars -= len(old_text)
                del self._documents[id(old.document)]
        return document

    def validate(self, schema: GraphQLSchema, document_ast: DocumentNode,
                 rules: Collection[type[ASTValidationRule]] | None = None,
                 max_errors: int | None = None, type_info: TypeInfo | None = None,
                 ) -> list[GraphQLError]:
        """Validation errors of a document (an ariadne ``QueryValidator``); remembered for
        documents this cache parsed, computed every time for any other. ``type_info`` is
        ignored: graphql-core 3.3 validates without one. The cost limits always apply, beside
        ``rules`` (the standard rules without it), and first: a document over a limit is
        refused with the limits it breaks alone, without the cost of the other rules (several
        times the measure's, paid by every new text an attacker sends)."""
        with self._lock:
            entry = self._documents.get(id(document_ast))
            known = entry is not None and entry.document is document_ast
            if known and schema is self.schema and entry is not None and entry.errors is not None:
                return entry.errors
        errors = list(validate(schema, document_ast, (self.cost_rule,), max_errors))
        if not errors:
            errors = list(validate(schema, document_ast,
                                   specified_rules if rules is None else rules, max_errors))
        if known and schema is self.schema and entry is not None:
            with self._lock:
                if errors:
                    self._forget(entry)
                else:
                    entry.errors = errors
        return errors

    def _forget(self, entry: _Entry) -> None:
        """Drop an invalid document (under the lock): kept, a stream of refused texts would
        fill the cache with parse trees that live on into the collector's oldest generation,
        where every full collection walks them (a pause for every request in flight)."""
        if self._texts.get(entry.text) is entry:
            del self._texts[entry.text]
            self._chars -= len(entry.text)
        self._documents.pop(id(entry.document), None)


def attach_documents(schema: GraphQLSchema, limits: QueryLimits | None = None) -> DocumentCache:
    """Give ``schema`` a document cache of its own (done by ``build_schema``)."""
    cache = DocumentCache(schema, limits=limits)
    schema.extensions[_EXTENSION] = cache
    return cache


def documents_of(schema: GraphQLSchema) -> DocumentCache:
    """The document cache of ``schema``; one is attached to a schema built elsewhere."""
    found = schema.extensions.get(_EXTENSION)
    if isinstance(found, DocumentCache):
        return found
    return attach_documents(schema)
