"""How a downloaded file is delivered: with its own content type only when a browser cannot
run it, as an attachment otherwise.

Files come from users, and download URLs are served from tracklet's own origin (or the
bucket's): an ``x.html`` or ``x.svg`` served as such would run its scripts there. Types a
browser only displays (images but SVG, audio, video, plain text, JSON, CSV, Parquet, archives,
``application/octet-stream``) keep their type; anything else is sent as
``application/octet-stream`` with ``Content-Disposition: attachment``. Responses also carry
``X-Content-Type-Options: nosniff`` so no type is guessed from the bytes.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from urllib.parse import quote

OCTET_STREAM = "application/octet-stream"
PARQUET = "application/vnd.apache.parquet"

_SAFE = frozenset({
    OCTET_STREAM, PARQUET, "application/json", "application/x-ndjson", "application/gzip",
    "application/zip", "application/x-tar", "application/x-parquet", "text/plain",
    "text/csv", "text/tab-separated-values",
})
_SAFE_FAMILIES = ("image/", "audio/", "video/")
# Rendered as documents (scripts run): never inline, whatever family they claim.
_UNSAFE = frozenset({"image/svg+xml"})


@dataclass(frozen=True)
class Delivery:
    """The Content-Type to send and, when set, the Content-Disposition."""

    media_type: str
    disposition: str | None

    def headers(self) -> dict[str, str]:
        """Response headers beside Content-Type."""
        headers = {"X-Content-Type-Options": "nosniff"}
        if self.disposition is not None:
            headers["Content-Disposition"] = self.disposition
        return headers


def guess_type(name: str) -> str:
    """The MIME type W&B would report for a file name."""
    return mimetypes.guess_type(name)[0] or OCTET_STREAM


def is_safe(media_type: str) -> bool:
    """Whether a browser only displays this type (never runs it as a document)."""
    media = media_type.split(";", 1)[0].strip().lower()
    if media in _UNSAFE:
        return False
    return media in _SAFE or media.startswith(_SAFE_FAMILIES)


def delivery(name: str, stored_type: str | None = None) -> Delivery:
    """How to send file ``name`` (stored with ``stored_type``, else guessed from the name)."""
    media = (stored_type or guess_type(name)).split(";", 1)[0].strip().lower()
    if is_safe(media):
        return Delivery(media, None)
    base = name.rsplit("/", 1)[-1] or "download"
    ascii_name = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_"
                         for c in base)
    return Delivery(OCTET_STREAM,
                    f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(base)}")
