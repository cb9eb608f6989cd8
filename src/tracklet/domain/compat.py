"""Which wandb SDK releases this server speaks to, as it tells them through ``serverInfo``."""

from __future__ import annotations

from typing import Any

#: The oldest SDK release tracklet is tested against (docs/compatibility.md).
MIN_SDK_VERSION = "0.19.0"
#: The newest SDK release tracklet is tested against. The SDK compares it with its own
#: version: at or above 0.12.14 it sends tables and images by client id and file name, and
#: `wandb verify` only warns (does not fail) when the installed SDK is newer.
MAX_SDK_VERSION = "0.31.0"


def cli_version_info() -> dict[str, Any]:
    """``ServerInfo.cliVersionInfo`` as W&B serves it (snake_case keys, JSON value)."""
    return {"min_cli_version": MIN_SDK_VERSION, "max_cli_version": MAX_SDK_VERSION}


def local_version_info(server_version: str) -> dict[str, Any]:
    """``ServerInfo.latestLocalVersionInfo``: a self-hosted server is its own latest release."""
    return {"outOfDate": False, "latestVersionString": server_version,
            "versionOnThisInstanceString": server_version}
