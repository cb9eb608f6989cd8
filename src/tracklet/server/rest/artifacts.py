"""Artifact bytes over HTTP: signed PUTs of files, parts and manifests, and GETs.

Uploads are spooled to a temporary file while being hashed, chunk by chunk, so memory stays
bounded whatever the file size; the bytes reach the blob store only once their MD5 matches
what the client declared (400 otherwise). Each upload URL stores bytes once. A signed
download names an artifact and a path (or its manifest), looked up again here: a deleted
artifact's URLs open nothing.
"""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from tracklet.domain.artifacts import ArtifactState, md5_hex_to_b64
from tracklet.domain.policy import Action, require
from tracklet.domain.records import User
from tracklet.errors import InvalidInput, NotFound
from tracklet.ingest import artifact_manifests as manifests
from tracklet.ingest import artifacts as ingest
from tracklet.ingest.uploads import HashingSpool
from tracklet.server.access import request_user, upload_token, url_claims
from tracklet.server.rest.storage import stream_blob
from tracklet.server.state import AppState
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import artifacts as repo

_BUFFER = 1024 * 1024


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.tracklet
    return state


async def receive(request: Request) -> HashingSpool:
    """The request body in a hashing spool; written in ~1 MiB slices off the event loop."""
    spool = HashingSpool()
    buffer = bytearray()
    try:
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) >= _BUFFER:
                data, buffer = bytes(buffer), bytearray()
                await to_thread.run_sync(spool.write, data)
        if buffer:
            await to_thread.run_sync(spool.write, bytes(buffer))
    except BaseException:
        spool.close()
        raise
    return spool


async def upload_file(request: Request) -> Response:
    """PUT of one artifact file to the URL CreateArtifactFiles handed out."""
    claims = url_claims(request)
    token = upload_token(request)
    spool = await receive(request)
    try:
        await to_thread.run_sync(ingest.store_file, _state(request).storage, spool,
                                 str(claims["m"]), request.headers.get("content-md5"),
                                 int(str(claims["a"])), token)
    finally:
        spool.close()
    return Response(status_code=200)


async def upload_part(request: Request) -> Response:
    """PUT of one multipart part; answers the part's MD5 as its ETag."""
    claims = url_claims(request)
    token = upload_token(request)
    spool = await receive(request)
    try:
        etag = await to_thread.run_sync(
            ingest.store_part, _state(request).storage, spool, str(claims["u"]),
            int(str(claims["p"])), request.headers.get("content-md5"), token)
    finally:
        spool.close()
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


async def upload_manifest(request: Request) -> Response:
    """PUT of an artifact's manifest to the URL CreateArtifactManifest handed out."""
    claims = url_claims(request)
    token = upload_token(request)
    spool = await receive(request)
    try:
        declared = str(claims.get("m") or "") or request.headers.get("content-md5")
        await to_thread.run_sync(manifests.store_manifest, _state(request).storage,
                                 int(str(claims["a"])), spool, declared, token)
    finally:
        spool.close()
    return Response(status_code=200)


def _find_blob(state: AppState, user: User, entity: str, project: str | None,
               md5_hex: str) -> str:
    require(user, Action.READ, entity, project)
    digest = md5_hex_to_b64(md5_hex)
    with state.storage.db.read() as conn:
        if project is not None:
            proj = accounts.find_project(conn, entity, project)
            key = repo.blob_in_project(conn, proj.id, digest) if proj else None
        else:
            key = repo.blob_in_entity(conn, accounts.get_entity(conn, entity).id, digest)
    if key is None:
        raise NotFound(f"no artifact file with MD5 {md5_hex} in {entity}/{project or ''}")
    return key


async def _stream(request: Request, key: str, name: str) -> Response:
    response: Response = await to_thread.run_sync(stream_blob, _state(request).storage, key,
                                                  name)
    return response


def _signed_file(storage: Storage, artifact_id: int, path: str | None) -> tuple[str, str]:
    """(blob key, name) of the file (``path``) or manifest (None) of a live artifact."""
    with storage.db.read() as conn:
        artifact = repo.get_artifact(conn, artifact_id)
        if artifact is None or artifact.state is ArtifactState.DELETED or (
                artifact.state is ArtifactState.COMMITTED
                and not repo.is_live(conn, artifact_id)):
            raise NotFound("no such artifact file (its artifact may have been deleted)")
        if path is None:
            key = artifact.manifest_blob_key
        else:
            found = repo.list_files(conn, artifact_id, [path], None, 1)
            key = found[0].blob_key if found else None
    if key is None:
        raise NotFound("no such artifact file")
    return key, path or "wandb_manifest.json"


async def download(request: Request) -> Response:
    """GET of an artifact file or manifest through a signed URL."""
    claims = url_claims(request)
    artifact_id, path = claims.get("a"), claims.get("p")
    if not isinstance(artifact_id, int) or not isinstance(path, str | None):
        raise NotFound("no such artifact file")
    key, name = await to_thread.run_sync(_signed_file, _state(request).storage, artifact_id,
                                         path)
    return await _stream(request, key, name)


async def download_v2(request: Request) -> Response:
    """GET /artifactsV2/<region>/<entity>/<project>/<collection>/[<id>/]<birth>/<md5>/<name>."""
    params = request.path_params
    parts = str(params["rest"]).split("/")
    if len(parts) < 3:
        raise InvalidInput("expected .../<birthArtifactID>/<md5 hex>/<file name>")
    md5_hex, name = parts[-2], parts[-1]
    key = await to_thread.run_sync(_find_blob, _state(request), request_user(request),
                                   str(params["entity"]), str(params["project"]), md5_hex)
    return await _stream(request, key, name)


async def download_v1(request: Request) -> Response:
    """GET /artifacts/<entity>/<md5 hex> (storage layout V1)."""
    params = request.path_params
    key = await to_thread.run_sync(_find_blob, _state(request), request_user(request),
                                   str(params["entity"]), None, str(params["md5"]))
    return await _stream(request, key, str(params["md5"]))
