"""The whole URL map."""

from __future__ import annotations

from starlette.routing import Route

from tracklet.server.rest import (
    artifacts,
    exports,
    file_stream,
    graphql,
    health,
    history,
    series,
    storage,
)

ROUTES = [
    Route("/graphql", graphql.graphql, methods=["POST"]),
    Route("/files/{entity}/{project}/{run}/file_stream", file_stream.file_stream, methods=["POST"]),
    Route("/storage/upload/{name:path}", storage.upload, methods=["PUT"]),
    Route("/storage/file/{name:path}", storage.download, methods=["GET"]),
    Route("/storage/artifact/{name:path}", artifacts.upload_file, methods=["PUT"]),
    Route("/storage/artifact-part/{name:path}", artifacts.upload_part, methods=["PUT"]),
    Route("/storage/manifest/{name:path}", artifacts.upload_manifest, methods=["PUT"]),
    Route("/storage/artifact-file/{name:path}", artifacts.download, methods=["GET"]),
    Route("/artifactsV2/{region}/{entity}/{project}/{collection}/{rest:path}",
          artifacts.download_v2, methods=["GET"]),
    Route("/artifacts/{entity}/{md5}", artifacts.download_v1, methods=["GET"]),
    Route("/storage/export/{name:path}", exports.download, methods=["GET", "HEAD"]),
    Route("/api/v1/runs/series", series.runs_series, methods=["GET"]),
    Route("/api/v1/runs/history", history.runs_history, methods=["GET"]),
    Route("/health", health.health, methods=["GET"]),
    Route("/healthz", health.health, methods=["GET"]),
    Route("/ready", health.ready, methods=["GET"]),
]
