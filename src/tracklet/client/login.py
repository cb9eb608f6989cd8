"""``tracklet login``: get an API key for a server and store it for the client.

The browser flow (RFC 8252's loopback redirect): a one-shot HTTP listener on 127.0.0.1 and
a random port waits for the key; the server's ``/authorize`` page, opened with
``?callback=http://127.0.0.1:<port>/callback&state=<token>``, creates a key for the
signed-in user and posts it there with the state. A post with any other state is refused and
the listener keeps waiting; it stops after the first good key or the timeout. Without a
browser the URL is printed and the key is read from the prompt.
"""

from __future__ import annotations

import secrets
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from tracklet.client.credentials import Credentials, store
from tracklet.client.wire import Connection, WireError
from tracklet.config import ClientSettings

#: Seconds the loopback listener waits for the browser by default.
LOGIN_TIMEOUT = 300.0

_DONE_PAGE = (b"<!doctype html><title>tracklet login</title>"
              b"<p>tracklet login received the key. You can close this tab.</p>")


class LoginError(RuntimeError):
    """The login did not produce a working key (refused, timed out, or cancelled)."""


class LoopbackListener:
    """The one-shot callback server of the browser flow, on 127.0.0.1 only."""

    def __init__(self) -> None:
        self.state = secrets.token_urlsafe(32)
        self.key: str | None = None
        self.refused = 0
        self._received = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 16384)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
                state = (form.get("state") or [""])[0]
                key = (form.get("key") or [""])[0].strip()
                good = (self.path.split("?")[0] == "/callback" and key
                        and not listener._received.is_set()
                        and secrets.compare_digest(state.encode(), listener.state.encode()))
                if not good:
                    listener.refused += 1
                    self.send_response(400)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"refused: wrong state or no key\n")
                    return
                listener.key = key
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(_DONE_PAGE)
                listener._received.set()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="tracklet-login-callback")
        self._thread.start()

    @property
    def callback_url(self) -> str:
        """Where the /authorize page posts the key."""
        return f"http://127.0.0.1:{self.port}/callback"

    def wait(self, timeout: float) -> str | None:
        """The key, or None after ``timeout`` seconds."""
        self._received.wait(timeout)
        return self.key

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()


def authorize_url(base_url: str, listener: LoopbackListener | None) -> str:
    """The server's /authorize page (with the callback and state when a listener waits)."""
    if listener is None:
        return f"{base_url}/authorize"
    query = urllib.parse.urlencode({"callback": listener.callback_url,
                                    "state": listener.state})
    return f"{base_url}/authorize?{query}"


def check_key(base_url: str, api_key: str) -> str:
    """The username the server knows ``api_key`` by; LoginError when it refuses it."""
    try:
        viewer = Connection(base_url, api_key, timeout=30).viewer()
    except WireError as exc:
        raise LoginError(f"cannot reach {base_url}: {exc}") from exc
    if viewer is None:
        raise LoginError(f"{base_url} refused the API key")
    return str(viewer.get("username") or viewer.get("entity") or "")


def login(host: str | None = None, *, key: str | None = None, browser: bool = True,
          open_url: Callable[[str], bool] | None = None,
          prompt: Callable[[str], str] | None = None, echo: Callable[[str], None] = print,
          timeout: float = LOGIN_TIMEOUT, settings: ClientSettings | None = None,
          ) -> Credentials:
    """Log in to ``host`` (default: the configured server), check the key with the server
    and store it (0600). The key is, in order: ``key``, ``TRACKLET_API_KEY`` /
    ``WANDB_API_KEY``, one received from the browser (``browser=True`` and ``open_url``,
    default :func:`webbrowser.open`, opened the page), else one pasted at ``prompt``."""
    settings = settings or ClientSettings.from_env()
    base_url = (host or settings.base_url).rstrip("/")
    if not base_url:
        raise LoginError("which server? tracklet login HOST (or set TRACKLET_BASE_URL)")
    if "://" not in base_url:
        base_url = "http://" + base_url
    api_key = key or settings.api_key
    if not api_key and browser:
        api_key = _browser_key(base_url, open_url, echo, timeout) or ""
    if not api_key:
        if prompt is None:
            raise LoginError("no API key received")
        echo(f"Create an API key at {authorize_url(base_url, None)} and paste it here.")
        api_key = prompt("API key: ").strip()
    username = check_key(base_url, api_key)
    path = store(base_url, api_key, settings)
    echo(f"Logged in to {base_url} as {username}; key stored in {path}")
    return Credentials(base_url=base_url, api_key=api_key)


def _browser_key(base_url: str, open_url: Callable[[str], bool] | None,
                 echo: Callable[[str], None], timeout: float) -> str | None:
    if open_url is None:
        import webbrowser

        open_url = webbrowser.open
    listener = LoopbackListener()
    try:
        url = authorize_url(base_url, listener)
        if not open_url(url):
            return None
        echo(f"Waiting for the browser (up to {timeout:g} s): {url}")
        key = listener.wait(timeout)
        if key is None:
            raise LoginError(f"no key arrived from the browser in {timeout:g} s")
        return key
    finally:
        listener.close()
