"""Blob store on an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, moto...).

Uploads stream through boto3's managed transfer (multipart above 8 MiB, so memory stays at a
few parts whatever the object size); S3 makes each PUT or CompleteMultipartUpload visible
atomically, which is the contract's "old bytes or all of the new ones". Downloads stream the
GetObject body. ``presigned_get`` hands clients a SigV4 URL on the bucket itself, so file
downloads (the SDK fetches them without credentials) bypass the tracklet server.

Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``~/.aws``, an instance role); the endpoint and region come from Settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from tracklet.errors import NotFound, StoreUnusable, Unavailable
from tracklet.storage.blobs.base import CHUNK, BlobInfo, BlobStore

_PART = 8 * 1024 * 1024
# SigV4 presigned URLs are valid for at most seven days.
_MAX_PRESIGN_S = 7 * 24 * 3600
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore(BlobStore):
    """Objects live under ``s3://bucket/prefix/``; keys map to object names below the prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        client: Any = None,
    ) -> None:
        if not bucket:
            raise StoreUnusable("an s3:// blob store URL needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        # A session of its own: boto3's default one keeps the credentials it resolved first.
        session = boto3.session.Session()

        def make(**config: Any) -> Any:
            return session.client(
                "s3", endpoint_url=endpoint_url, region_name=region,
                config=Config(
                    signature_version="s3v4",
                    # Custom endpoints (MinIO, moto, on-prem) rarely resolve bucket subdomains.
                    s3={"addressing_style": "path" if endpoint_url else "auto"},
                    **config,
                ))

        self._client = client if client is not None else make(
            retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
        # The startup check tries once and gives up connecting after a few seconds: the
        # store's client retries five times, which would hold a wrong endpoint up for long.
        probe = client if client is not None else make(
            retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
            read_timeout=10)
        self._transfer = TransferConfig(
            multipart_threshold=_PART, multipart_chunksize=_PART, max_concurrency=4
        )
        self._check_bucket(probe)

    def _check_bucket(self, client: Any) -> None:
        """Fail at startup with what was tried and why, rather than at the first upload."""
        where = f"S3 bucket {self.bucket!r} at {self._client.meta.endpoint_url}"
        try:
            client.head_bucket(Bucket=self.bucket)
        except NoCredentialsError as exc:
            raise StoreUnusable(
                "no S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or ~/.aws/credentials, or an instance role)") from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            raise StoreUnusable(f"cannot reach the S3 endpoint for {where}: {exc}") from exc
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                raise StoreUnusable(f"{where} does not exist (create it first)") from exc
            if status in (401, 403):
                # A HEAD answer has no body, so no error code: ask again with a GET, whose
                # answer says whether the key, the signature or the bucket's policy refused.
                code, message = _refusal(client, self.bucket)
                if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
                            "ExpiredToken", "InvalidClientTokenId"):
                    raise StoreUnusable(
                        f"S3 credentials refused by {where} ({code}: {message}); check "
                        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY") from exc
                raise StoreUnusable(f"access to {where} denied ({code or status}: "
                                    f"{message or 'forbidden'})") from exc
            raise StoreUnusable(f"{where} is not usable ({status}: {exc})") from exc

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, source: BinaryIO) -> int:
        counted = _CountingReader(source)
        with _translate(key, missing=False):
            self._client.upload_fileobj(counted, self.bucket, self._key(key),
                                        Config=self._transfer)
        return counted.count

    def open(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        with _translate(key):
            body = self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        return _chunks(body, chunk_size, key)

    def open_range(self, key: str, first: int, last: int, chunk_size: int = CHUNK
                   ) -> Iterator[bytes]:
        with _translate(key):
            body = self._client.get_object(Bucket=self.bucket, Key=self._key(key),
                                           Range=f"bytes={first}-{last}")["Body"]
        return _chunks(body, chunk_size, key)

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except NotFound:
            return False
        return True

    def size(self, key: str) -> int:
        with _translate(key):
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        with _translate(key, missing=False):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def listing(self, prefix: str = "") -> Iterator[BlobInfo]:
        skip = len(self.prefix) + 1 if self.prefix else 0
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix) if prefix or self.prefix else "")
        with _translate("", missing=False):
            for page in pages:
                for obj in page.get("Contents", []):
                    yield BlobInfo(obj["Key"][skip:], int(obj["Size"]),
                                   obj["LastModified"].timestamp())

    def info(self, key: str) -> BlobInfo:
        with _translate(key):
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        return BlobInfo(key, int(head["ContentLength"]), head["LastModified"].timestamp())

    def presigned_get(self, key: str, expires_s: int, content_type: str | None = None,
                      disposition: str | None = None) -> str | None:
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        # Signed into the URL: S3 answers with these headers, and a changed value breaks
        # the signature. (S3 sends no X-Content-Type-Options; the type is forced instead.)
        if content_type is not None:
            params["ResponseContentType"] = content_type
        if disposition is not None:
            params["ResponseContentDisposition"] = disposition
        url: str = self._client.generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=max(1, min(expires_s, _MAX_PRESIGN_S)),
        )
        return url

    def presigned_put(self, key: str, expires_s: int) -> str | None:
        url: str = self._client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=max(1, min(expires_s, _MAX_PRESIGN_S)),
        )
        return url

    def close(self) -> None:
        self._client.close()


class _CountingReader:
    """A read-only, non-seekable view of ``source`` that counts the bytes handed out.

    Non-seekable on purpose: boto3 then reads the stream part by part instead of asking for
    its length up front, which works for pipes and sockets as well as files.
    """

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.count += len(data)
        return data


def _refusal(client: Any, bucket: str) -> tuple[str, str]:
    """The error code and message S3 gives for a one-key listing of ``bucket``."""
    try:
        client.list_objects_v2(Bucket=bucket, MaxKeys=1)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return str(error.get("Code", "")), str(error.get("Message", ""))
    except (BotoConnectionError, HTTPClientError):
        pass
    return "", ""


@contextmanager
def _translate(key: str, missing: bool = True) -> Iterator[None]:
    """Map S3 errors to domain errors: a missing key → NotFound (when ``missing``), an
    unreachable or overloaded store → Unavailable, so clients retry instead of failing."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if missing and (code in _MISSING or status == 404):
            raise NotFound(f"blob {key!r} not found") from exc
        if status >= 500 or code in ("SlowDown", "RequestTimeout", "Throttling"):
            raise Unavailable(f"object store unavailable ({code}), retry",
                              retry_after=2.0) from exc
        raise
    except (BotoConnectionError, HTTPClientError, IncompleteReadError) as exc:
        raise Unavailable(f"object store unreachable: {exc}", retry_after=2.0) from exc


def _chunks(body: Any, chunk_size: int, key: str) -> Iterator[bytes]:
    try:
        with _translate(key):
            yield from body.iter_chunks(chunk_size)
    finally:
        body.close()
