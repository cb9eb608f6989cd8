"""Hatch build hook: the web UI's assets are built into the package before it is packed.

A wheel or sdist gets ``src/tracklet/ui/static/`` (built by ``scripts/build_ui.py`` from
``frontend/``, gitignored, never committed); a wheel built from an sdist finds them fresh
and needs no Node.js. Editable installs skip the build: ``make run`` builds for a checkout.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).resolve().parent


class UiBuildHook(BuildHookInterface):  # type: ignore[misc]  # hatchling ships no types here
    """Runs ``scripts/build_ui.py`` (when the assets are missing or stale)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the UI unless this is an editable wheel."""
        if self.target_name == "wheel" and version == "editable":
            return
        spec = importlib.util.spec_from_file_location("build_ui", ROOT / "scripts" / "build_ui.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if module.build():
            self.app.display_info("built the web UI into src/tracklet/ui/static")
