"""What older SDK releases and ``wandb verify`` ask of the server, with the pinned SDK's own
client code: the version range in ``serverInfo``, and the checks ``wandb verify`` runs."""

from __future__ import annotations

from typing import Any

import pytest
from packaging.version import parse

from tracklet import __version__
from tracklet.domain import compat

# The document SDK 0.28 and older send at every wandb.init and in `wandb verify`
# (InternalApi.viewer_server_info); a field missing from it failed the whole query.
SDK_028_VIEWER = """
query Viewer{
    viewer { id entity username email flags teams { edges { node { name } } } }
    serverInfo {
        cliVersionInfo
        latestLocalVersionInfo { outOfDate latestVersionString versionOnThisInstanceString }
    }
}
"""


def test_server_info_serves_the_version_fields_older_sdks_ask_for(
        api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import wandb
    from wandb.sdk.verify import verify

    info = api._service_api.execute_graphql(SDK_028_VIEWER)["serverInfo"]
    assert info["latestLocalVersionInfo"] == {
        "outOfDate": False, "latestVersionString": __version__,
        "versionOnThisInstanceString": __version__}
    versions = info["cliVersionInfo"]
    assert versions == {"min_cli_version": compat.MIN_SDK_VERSION,
                        "max_cli_version": compat.MAX_SDK_VERSION}
    # The SDK sends tables and images by client id and file name from 0.12.14 on.
    assert parse(versions["max_cli_version"]) >= parse("0.12.14")
    # `wandb verify`'s version check passes for the pinned SDK (it crashed on a missing max).
    capsys.readouterr()
    verify.check_wandb_version(api)
    printed = capsys.readouterr().out
    assert "Checking wandb package version" in printed
    assert "not supported" not in printed and "out of date" not in printed
    assert parse(versions["min_cli_version"]) <= parse(wandb.__version__)
