"""The per-application resources, opened in the lifespan and kept on ``app.state.tracklet``."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import GraphQLSchema

from tracklet.config import Settings
from tracklet.ingest.writer import GroupWriter
from tracklet.server.auth import Authenticator
from tracklet.server.metrics import Metrics
from tracklet.server.rate_limits import SignInLimiter, UserConcurrency
from tracklet.storage import Storage


@dataclass
class AppState:
    """Everything a request handler needs."""

    settings: Settings
    storage: Storage
    auth: Authenticator
    schema: GraphQLSchema
    writer: GroupWriter
    #: The HMAC key of signed URLs, read (or created) once at startup: verifying a URL on
    #: the event loop must not wait for the database.
    signing_secret: bytes
    #: Failed sign-ins per (username, address), and GraphQL requests in flight per user.
    sign_ins: SignInLimiter
    graphql_slots: UserConcurrency
    #: This process's request counters, shared with the RequestMetrics middleware.
    metrics: Metrics = field(default_factory=Metrics)
