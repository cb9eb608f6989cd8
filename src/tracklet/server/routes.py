"""The whole URL map, and who may call each route (see :mod:`tracklet.server.access`).

``Access.PUBLIC`` routes take no credentials (health probes, sign-in, and the web UI's shell
and static assets: the pages fetch their data from the authenticated APIs), ``Access.USER``
routes a user's API key or session cookie (plus the CSRF token on a cookie-authenticated
write), ``Access.SIGNED_URL`` routes a signed token of the named kind in ``?t=`` (handed out
by :mod:`tracklet.server.urls`); each kind opens one route, for its method(s) only.
``tests/server/test_routes.py`` calls every route without them.
"""

from __future__ import annotations

from tracklet.server.access import Access, AccessRoute, route
from tracklet.server.rest import (
    artifacts,
    audit,
    auth,
    console,
    exports,
    file_stream,
    graphql,
    health,
    history,
    metrics,
    query,
    run_file,
    series,
    storage,
)
from tracklet.ui import authorize_page, page, static_file

ROUTES: list[AccessRoute] = [
    route("/graphql", graphql.graphql, ["POST"], access=Access.USER, json_body=True),
    route("/files/{entity}/{project}/{run}/file_stream", file_stream.file_stream, ["POST"],
          access=Access.USER),
    route("/storage/upload/{name:path}", storage.upload, ["PUT"],
          access=Access.SIGNED_URL, token="up"),
    route("/storage/file/{name:path}", storage.download, ["GET"],
          access=Access.SIGNED_URL, token="file"),
    route("/storage/artifact/{name:path}", artifacts.upload_file, ["PUT"],
          access=Access.SIGNED_URL, token="aup"),
    route("/storage/artifact-part/{name:path}", artifacts.upload_part, ["PUT"],
          access=Access.SIGNED_URL, token="apt"),
    route("/storage/manifest/{name:path}", artifacts.upload_manifest, ["PUT"],
          access=Access.SIGNED_URL, token="amf"),
    route("/storage/artifact-file/{name:path}", artifacts.download, ["GET"],
          access=Access.SIGNED_URL, token="afile"),
    route("/artifactsV2/{region}/{entity}/{project}/{collection}/{rest:path}",
          artifacts.download_v2, ["GET"], access=Access.USER),
    route("/artifacts/{entity}/{md5}", artifacts.download_v1, ["GET"], access=Access.USER),
    route("/storage/export/{name:path}", exports.download, ["GET", "HEAD"],
          access=Access.SIGNED_URL, token="hist"),
    route("/api/v1/runs/series", series.runs_series, ["GET"], access=Access.USER),
    route("/api/v1/runs/history", history.runs_history, ["GET"], access=Access.USER),
    route("/api/v1/runs/console", console.runs_console, ["GET"], access=Access.USER),
    route("/api/v1/runs/file", run_file.run_file, ["GET"], access=Access.USER),
    route("/api/v1/query", query.query, ["POST"], access=Access.USER, json_body=True),
    route("/api/v1/auth/login", auth.login, ["POST"], access=Access.PUBLIC, json_body=True),
    route("/api/v1/auth/logout", auth.logout, ["POST"], access=Access.USER),
    route("/api/v1/auth/me", auth.me, ["GET"], access=Access.USER),
    route("/api/v1/auth/keys", auth.create_key, ["POST"], access=Access.USER, json_body=True),
    route("/api/v1/auth/keys/{name}", auth.delete_key, ["DELETE"], access=Access.USER),
    route("/api/v1/audit", audit.audit_log, ["GET"], access=Access.USER),
    route("/health", health.health, ["GET"], access=Access.PUBLIC),
    route("/healthz", health.health, ["GET"], access=Access.PUBLIC),
    route("/ready", health.ready, ["GET"], access=Access.PUBLIC),
    # Prometheus; admin users only (rest/metrics.py says why).
    route("/metrics", metrics.metrics, ["GET"], access=Access.USER),
    # The web UI: hashed assets, then the page URLs the wandb SDK prints (project and run
    # links, `wandb login`'s /authorize). `{entity:entity}` refuses the API's own prefixes.
    route("/static/{name:path}", static_file, ["GET"], access=Access.PUBLIC),
    route("/", page, ["GET"], access=Access.PUBLIC),
    route("/login", page, ["GET"], access=Access.PUBLIC),
    route("/authorize", authorize_page, ["GET"], access=Access.PUBLIC),
    route("/query", page, ["GET"], access=Access.PUBLIC),
    route("/{entity:entity}/{project}", page, ["GET"], access=Access.PUBLIC),
    route("/{entity:entity}/{project}/runs/{run}", page, ["GET"], access=Access.PUBLIC),
    route("/{entity:entity}/{project}/sweeps/{sweep}", page, ["GET"], access=Access.PUBLIC),
    route("/{entity:entity}/{project}/artifacts/{type}/{name}/{version}", page, ["GET"],
          access=Access.PUBLIC),
]
