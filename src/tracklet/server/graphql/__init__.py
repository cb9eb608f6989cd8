"""Schema-first GraphQL: the SDL in ``schema/`` plus the resolvers in ``resolvers/``."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ariadne import (
    convert_camel_case_to_snake,
    convert_schema_names,
    format_error,
    graphql_sync,
    load_schema_from_path,
    make_executable_schema,
)
from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema

from tracklet.errors import (
    InvalidInput,
    PayloadTooLarge,
    TrackletError,
    Unavailable,
    Unsupported,
)
from tracklet.server.errors import (
    graphql_message,
    graphql_status,
    new_request_id,
    resolver_error,
)
from tracklet.server.graphql.context import GraphQLContext
from tracklet.server.graphql.cost import QueryLimits
from tracklet.server.graphql.documents import attach_documents, documents_of
from tracklet.server.graphql.resolvers import (
    alerts,
    artifact_reads,
    artifacts,
    file_delete,
    files,
    history,
    registries,
    registry_members,
    reports,
    run_control,
    run_delete,
    runs,
    runs_query,
    server_settings,
    sweeps,
    teams,
    viewer,
)
from tracklet.server.graphql.scalars import SCALARS

log = logging.getLogger("tracklet.graphql")


class _CallerErrors(logging.LoggerAdapter):  # type: ignore[type-arg]
    """What ariadne logs for every error of every answer, at debug level, without the
    traceback: most are the caller's (a refused document, a missing run), and the internal
    ones are logged at error level with their request id by :func:`execute`. At error level
    each refused request wrote kilobytes of log, and an attacker's loop filled the disk."""

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log ``msg`` at debug level, without ``exc_info``."""
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(msg, *args)


_ARIADNE_LOG = _CallerErrors(log, {})

SCHEMA_DIR = Path(__file__).parent / "schema"

#: Appended to validation errors about fields and arguments W&B has and tracklet lacks.
UNSUPPORTED_NOTE = ("(this W&B feature is not supported by this tracklet server; "
                    "see docs/compatibility.md)")
_UNKNOWN = re.compile(r"Cannot query field |Unknown argument ")


def build_schema(limits: QueryLimits | None = None) -> GraphQLSchema:
    """The executable schema: SDL files plus every resolver module's bindables, with a
    cache of the documents executed against it (see :mod:`.documents`) that validates them
    against ``limits`` too (see :mod:`.cost`; the defaults without it)."""
    type_defs = load_schema_from_path(str(SCHEMA_DIR))
    bindables: list[Any] = [*SCALARS, *viewer.BINDABLES, *runs.BINDABLES, *files.BINDABLES,
                            *artifacts.BINDABLES, *artifact_reads.BINDABLES,
                            *run_control.BINDABLES, *runs_query.BINDABLES,
                            *history.BINDABLES, *run_delete.BINDABLES,
                            *teams.BINDABLES, *sweeps.BINDABLES, *alerts.BINDABLES,
                            *file_delete.BINDABLES, *reports.BINDABLES,
                            *registries.BINDABLES, *registry_members.BINDABLES,
                            *server_settings.BINDABLES]
    schema = make_executable_schema(type_defs, *bindables)
    _bind_default_resolvers(schema)
    # Arguments and input fields arrive in resolvers as snake_case keyword/dict keys.
    convert_schema_names(schema, None)
    attach_documents(schema, limits)
    return schema


def _bind_default_resolvers(schema: GraphQLSchema) -> None:
    """Fields without a resolver read ``camelCase`` dict keys or ``snake_case`` attributes.

    Resolvers return either plain dicts shaped like the GraphQL response (camelCase keys) or
    domain records (snake_case attributes); this one resolver serves both.

    A mutation nobody implemented answers a clear "not supported" error instead: a silent
    null payload makes wandb-core dereference nil and crash the user's run.
    """
    mutation_type = schema.mutation_type
    for type_name, gtype in schema.type_map.items():
        if not isinstance(gtype, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for field_name, gfield in gtype.fields.items():
            if gfield.resolve is None:
                if gtype is mutation_type:
                    gfield.resolve = _unsupported(field_name)
                else:
                    gfield.resolve = _field_reader(
                        field_name, convert_camel_case_to_snake(field_name))


def _unsupported(name: str) -> Any:
    def resolve(*_args: Any, **_kwargs: Any) -> Any:
        raise Unsupported(f"{name} is not supported by this tracklet server")

    return resolve


def _field_reader(name: str, snake: str) -> Any:
    def resolve(source: Any, _info: Any, **_kwargs: Any) -> Any:
        if isinstance(source, dict):
            return source[name] if name in source else source.get(snake)
        return getattr(source, snake, None)

    return resolve


def execute(
    schema: GraphQLSchema, body: Any, context: GraphQLContext
) -> tuple[dict[str, Any], int]:
    """Run one GraphQL request body; returns (response body, HTTP status).

    Domain errors inside resolvers become GraphQL errors with the domain message; a transient
    one (Unavailable) is re-raised so the HTTP layer answers 503 and the SDK retries. The
    status is 200 unless the whole operation failed (see ``server.errors.graphql_status``).
    """
    if not isinstance(body, dict):
        raise InvalidInput("GraphQL request must be a JSON object")
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("GraphQL request needs a 'query' string")
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("'variables' must be an object")
    operation = body.get("operationName") or None
    if operation is not None and not isinstance(operation, str):
        raise InvalidInput("'operationName' must be a string")
    documents = documents_of(schema)
    limit = documents.limits.max_document_bytes
    if len(query) > limit or len(query.encode("utf-8")) > limit:
        raise PayloadTooLarge(
            f"GraphQL document is over the limit of {limit} bytes "
            "(graphql_max_document_bytes)")
    transient: list[Unavailable] = []
    originals: list[BaseException | None] = []

    request_id = new_request_id()

    def format_one(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
        formatted: dict[str, Any] = format_error(error, debug)
        raw = error.original_error
        original = None if raw is None else resolver_error(raw)
        originals.append(original)
        if isinstance(original, Unavailable):
            transient.append(original)
        if original is None and _UNKNOWN.match(error.message):
            # A W&B field or argument tracklet lacks: say so, as the SDK shows the message.
            formatted["message"] = f"{error.message} {UNSUPPORTED_NOTE}"
        if original is not None:
            formatted["message"] = graphql_message(original, request_id)
            if not isinstance(original, (TrackletError, GraphQLError)):
                log.error("internal error in GraphQL field %s (request id %s)",
                          ".".join(map(str, error.path or ())), request_id,
                          exc_info=original)
                formatted.setdefault("extensions", {})["requestId"] = request_id
        return formatted

    _ok, result = graphql_sync(
        schema,
        {"query": query, "variables": variables, "operationName": operation},
        context_value=context,
        query_parser=documents.parse,
        query_validator=documents.validate,
        error_formatter=format_one,
        logger=_ARIADNE_LOG,
    )
    if transient:
        raise transient[0]
    return result, graphql_status(result, originals)


__all__ = ["GraphQLContext", "build_schema", "execute"]
