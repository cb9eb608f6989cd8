"""Where the client finds its server and API key, and the login file it keeps them in.

Order: what the caller passes, then the environment (``TRACKLET_API_KEY`` /
``TRACKLET_BASE_URL``, else ``WANDB_API_KEY`` / ``WANDB_BASE_URL``), then what ``tracklet
login`` stored in ``<config dir>/credentials.json`` (file mode 0600).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracklet.config import ClientSettings

FILE_NAME = "credentials.json"


class LoginRequired(RuntimeError):
    """No server URL or no API key is configured for the client."""


@dataclass(frozen=True)
class Credentials:
    """A server and the API key to use there."""

    base_url: str
    api_key: str


def config_dir(settings: ClientSettings | None = None) -> Path:
    """The folder of the stored login: ``TRACKLET_CONFIG_DIR`` or the user's config dir."""
    settings = settings or ClientSettings.from_env()
    if settings.config_dir is not None:
        return settings.config_dir
    import platformdirs

    return Path(platformdirs.user_config_dir("tracklet", appauthor=False))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def store(base_url: str, api_key: str, settings: ClientSettings | None = None) -> Path:
    """Remember ``api_key`` for ``base_url`` (which becomes the default server); the file is
    created with mode 0600 and never widened."""
    directory = config_dir(settings)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / FILE_NAME
    data = _read(path)
    base_url = base_url.rstrip("/")
    data["default"] = base_url
    data.setdefault("keys", {})[base_url] = api_key
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def resolve(base_url: str | None = None, api_key: str | None = None,
            settings: ClientSettings | None = None) -> Credentials:
    """The server and key to use; :class:`LoginRequired` when either is unknown."""
    settings = settings or ClientSettings.from_env()
    stored = _read(config_dir(settings) / FILE_NAME)
    url = (base_url or settings.base_url or str(stored.get("default") or "")).rstrip("/")
    if not url:
        raise LoginRequired("no tracklet server configured: run `tracklet login HOST` or set "
                            "TRACKLET_BASE_URL")
    keys = stored.get("keys") if isinstance(stored.get("keys"), dict) else {}
    key = api_key or settings.api_key or str((keys or {}).get(url) or "")
    if not key:
        raise LoginRequired(f"no API key for {url}: run `tracklet login {url}` or set "
                            "TRACKLET_API_KEY")
    return Credentials(base_url=url, api_key=key)
