"""Security headers on every response.

* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (signed URLs carry
  their token in the query string, which must not leak to another site),
  ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` (no page of ours in another
  site's frame).
* A Content-Security-Policy: the strict :data:`PAGE_CSP` (our own scripts, styles and
  connections only; no inline script or style) for HTML the server renders, and the
  locked-down :data:`CONTENT_CSP` (nothing loads, scripts never run: ``sandbox``) for
  everything else, stored files included, so an uploaded ``x.html`` or ``x.svg`` opened
  from its download URL cannot run script as this origin.
* ``Strict-Transport-Security`` on https requests (the scheme uvicorn derived, trusting
  X-Forwarded-Proto only from ``forwarded_allow_ips``).

A header the handler set itself is kept.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
            "img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self'; "
            "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")
CONTENT_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
HSTS = "max-age=31536000"
#: Where stored (user-supplied) bytes are served: never the page policy, whatever the type.
_CONTENT_PREFIXES = ("/storage/", "/artifacts/", "/artifactsV2/", "/files/")

_ALWAYS = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        stored = str(scope.get("path", "")).startswith(_CONTENT_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS:
                    headers.setdefault(name, value)
                media_type = headers.get("content-type", "").partition(";")[0].strip()
                page = media_type == "text/html" and not stored
                headers.setdefault("content-security-policy", PAGE_CSP if page else CONTENT_CSP)
                if https:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
