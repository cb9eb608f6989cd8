"""Query cost limits: depth, aliases and a complexity budget, checked before execution.

One request must not be able to slow every other user down, so each operation is measured
statically while it is validated (once per distinct document: the measure is cached with the
validation errors, see :mod:`.documents`), with fragments expanded:

* **depth**: the longest chain of nested fields;
* **aliases**: how many fields carry an alias (``a1: historyKeys ... a30: historyKeys``);
* **cost**: every field costs 1 plus its children, times a page size for fields that return
  many objects, plus a fixed weight for the fields that read a run's history.

A connection (a type named ``...Connection``) or a list of objects multiplies its children
by the page it asks for: the literal ``first``/``last``/``limit``/``samples`` argument, or the
default of the variable passed there, or when neither says :attr:`QueryLimits.page_weight`
for a connection and :attr:`QueryLimits.list_weight` for a plain list.
The ``edges`` list inside a connection is already counted by its connection. This is an
estimate that ignores variable values on purpose: it belongs to the document, so it is
computed once, and every document the wandb SDK sends stays far below the budget
(``tests/server/test_graphql_cost.py`` measures all of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
)

from tracklet.config import Settings

#: Fields that read a run's history tables or files: each costs this much on its own.
HISTORY_FIELDS = frozenset({
    "history", "sampledHistory", "historyKeys", "historyTail", "events", "eventsTail",
    "parquetHistory",
})
_PAGE_ARGUMENTS = ("first", "last", "limit", "samples")


@dataclass(frozen=True)
class QueryLimits:
    """The cost limits of one GraphQL operation (from :class:`tracklet.config.Settings`)."""

    max_depth: int = 15
    max_aliases: int = 10
    max_cost: int = 200_000
    max_document_bytes: int = 100_000
    max_tokens: int = 20_000
    page_weight: int = 50
    #: A plain list of objects (an artifact's aliases, a run's files by name) is unpaged and
    #: short in practice: it counts this many items unless an argument says how many.
    list_weight: int = 10
    history_weight: int = 2000
    max_page_weight: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        """The limits configured in ``settings``."""
        return cls(max_depth=settings.graphql_max_depth,
                   max_aliases=settings.graphql_max_aliases,
                   max_cost=settings.graphql_max_cost,
                   max_document_bytes=settings.graphql_max_document_bytes,
                   max_tokens=settings.graphql_max_tokens,
                   history_weight=settings.graphql_history_weight)


@dataclass
class Cost:
    """What :func:`measure` found in one operation."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0
    #: The walk stopped early, past the budget: the numbers are lower bounds.
    partial: bool = False


@dataclass(frozen=True)
class _Fragment:
    cost: int
    depth: int
    aliases: int
    visits: int


class _Measure:
    def __init__(self, schema: GraphQLSchema | None, limits: QueryLimits,
                 fragments: dict[str, FragmentDefinitionNode],
                 defaults: dict[str, int]) -> None:
        self.schema = schema
        self.limits = limits
        self.fragments = fragments
        self.defaults = defaults
        self.aliases = 0
        self.depth = 0
        self.visits = 0
        self.memo: dict[tuple[str, bool], _Fragment] = {}

    def selections(self, selection_set: SelectionSetNode | None,
                   parent: GraphQLNamedType | None, depth: int,
                   in_connection: bool, spread: tuple[str, ...]) -> int:
        if selection_set is None:
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent, depth + 1, in_connection, spread)
            elif isinstance(node, InlineFragmentNode):
                condition = self._type(node.type_condition.name.value
                                       if node.type_condition else None) or parent
                total += self.selections(node.selection_set, condition, depth, in_connection,
                                         spread)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:  # other rules report these
                    continue
                total += self.fragment(fragment, parent, depth, in_connection,
                                       (*spread, name))
            self._guard()
        return total

    def fragment(self, fragment: FragmentDefinitionNode, parent: GraphQLNamedType | None,
                 depth: int, in_connection: bool, spread: tuple[str, ...]) -> int:
        """A named fragment's cost, measured once per document: a fragment spread many
        times (or spreading another twice, forty levels down) costs one walk."""
        key = (fragment.name.value, in_connection)
        known = self.memo.get(key)
        if known is None:
            aliases, visits, deepest = self.aliases, self.visits, self.depth
            self.depth = depth
            condition = self._type(fragment.type_condition.name.value) or parent
            cost = self.selections(fragment.selection_set, condition, depth, in_connection,
                                   spread)
            known = self.memo[key] = _Fragment(cost, self.depth - depth,
                                               self.aliases - aliases, self.visits - visits)
            self.aliases, self.visits, self.depth = aliases, visits, deepest
        self.depth = max(self.depth, depth + known.depth)
        self.aliases += known.aliases
        self.visits += known.visits
        return known.cost

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, depth: int,
              in_connection: bool, spread: tuple[str, ...]) -> int:
        self.depth = max(self.depth, depth)
        self.visits += 1
        if node.alias is not None:
            self.aliases += 1
        name = node.name.value
        field_type: Any = None
        definition = getattr(parent, "fields", {}).get(name)  # objects and interfaces
        if definition is not None:
            field_type = definition.type
        named = get_named_type(field_type) if field_type is not None else None
        is_connection = named is not None and named.name.endswith("Connection")
        is_list = isinstance(get_nullable_type(field_type), GraphQLList) if field_type else False
        children = self.selections(node.selection_set, named, depth,
                                   is_connection, spread)
        multiplier = 1
        if is_connection:
            multiplier = self.page(node, self.limits.page_weight)
        elif (is_list and named is not None and is_composite_type(named)
              and not (in_connection and name == "edges")):
            multiplier = self.page(node, self.limits.list_weight)
        own = self.limits.history_weight if name in HISTORY_FIELDS else 1
        return own + multiplier * children

    def page(self, node: FieldNode, default: int) -> int:
        for argument in node.arguments or ():
            if argument.name.value not in _PAGE_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(1, min(int(value.value), self.limits.max_page_weight))
            if isinstance(value, VariableNode) and value.name.value in self.defaults:
                return max(1, min(self.defaults[value.name.value],
                                  self.limits.max_page_weight))
        return default

    def _type(self, name: str | None) -> GraphQLNamedType | None:
        if name is None or self.schema is None:
            return None
        return self.schema.type_map.get(name)

    def _guard(self) -> None:
        # Stop walking a document already past the budget: its verdict is settled, and a
        # fragment fan-out (each fragment spreading the next twice) would otherwise make the
        # walk itself exponential. Every field visited adds at least 1 to the cost.
        if self.visits > self.limits.max_cost:
            raise _Exceeded


class _Exceeded(Exception):
    pass


def measure(operation: OperationDefinitionNode, fragments: Sequence[FragmentDefinitionNode],
            schema: GraphQLSchema | None, limits: QueryLimits) -> Cost:
    """The depth, alias count and cost of ``operation`` (fragments expanded)."""
    defaults: dict[str, int] = {}
    for variable in operation.variable_definitions or ():
        if isinstance(variable.default_value, IntValueNode):
            defaults[variable.variable.name.value] = int(variable.default_value.value)
    root: GraphQLNamedType | None = None
    if schema is not None:
        root = {OperationType.QUERY: schema.query_type,
                OperationType.MUTATION: schema.mutation_type,
                OperationType.SUBSCRIPTION: schema.subscription_type}.get(operation.operation)
    walker = _Measure(schema, limits, {f.name.value: f for f in fragments}, defaults)
    try:
        cost = walker.selections(operation.selection_set, root, 0, False, ())
    except _Exceeded:
        return Cost(depth=walker.depth, aliases=walker.aliases, cost=walker.visits,
                    partial=True)
    return Cost(depth=walker.depth, aliases=walker.aliases, cost=cost)


def cost_errors(cost: Cost, limits: QueryLimits, name: str) -> list[str]:
    """Messages naming each limit ``cost`` is over (empty when within every limit)."""
    errors = []
    least = "at least " if cost.partial else ""
    if cost.depth > limits.max_depth:
        errors.append(f"{name} is nested {least}{cost.depth} fields deep, over the limit of "
                      f"{limits.max_depth} (graphql_max_depth)")
    if cost.aliases > limits.max_aliases:
        errors.append(f"{name} has {least}{cost.aliases} aliased fields, over the limit of "
                      f"{limits.max_aliases} (graphql_max_aliases)")
    if cost.cost > limits.max_cost:
        errors.append(f"{name} has an estimated cost of {least}{cost.cost}, over the budget of "
                      f"{limits.max_cost} (graphql_max_cost)")
    return errors


def cost_rule(limits: QueryLimits) -> type[ASTValidationRule]:
    """A validation rule reporting operations over ``limits``."""

    class QueryCostRule(ASTValidationRule):
        """Refuses operations deeper, more aliased or costlier than the server allows."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self._context = context

        def enter_document(self, node: Any, *_args: Any) -> Any:
            definitions = node.definitions
            fragments = [d for d in definitions if isinstance(d, FragmentDefinitionNode)]
            for operation in definitions:
                if not isinstance(operation, OperationDefinitionNode):
                    continue
                name = (f"operation {operation.name.value!r}" if operation.name
                        else "the operation")
                found = measure(operation, fragments, self._context.schema, limits)
                for message in cost_errors(found, limits, name):
                    self.report_error(GraphQLError(message, operation))
            return self.SKIP

    return QueryCostRule
