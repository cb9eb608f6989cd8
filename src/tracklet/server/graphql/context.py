"""What every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo

from tracklet.config import Settings
from tracklet.domain.records import User
from tracklet.server.graphql.loaders import Loaders
from tracklet.storage import Storage


@dataclass
class GraphQLContext:
    """The caller, the stores, the URL the caller reached us on, and the request's batch
    loaders (:mod:`.loaders`)."""

    user: User
    storage: Storage
    settings: Settings
    base_url: str
    cache: dict[str, Any] = field(default_factory=dict)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.storage)


if TYPE_CHECKING:
    Info = GraphQLResolveInfo[GraphQLContext]
else:
    Info = GraphQLResolveInfo


def context_of(info: Info) -> GraphQLContext:
    """The request's :class:`GraphQLContext`, checked at run time as well as by the type."""
    ctx = info.context
    assert isinstance(ctx, GraphQLContext)
    return ctx
