"""The ASGI application: GraphQL, file_stream, file transfer and health endpoints."""

from tracklet.server.app import create_app

__all__ = ["create_app"]
