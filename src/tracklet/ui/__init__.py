"""The web UI: page routes answering the app shell, and the built assets they load.

The front end's sources live in ``frontend/`` at the repository root (TypeScript, built by
Vite); ``npm run build`` there writes hashed files into ``static/`` here, which ships inside
the wheel (built by ``hatch_build.py``, never committed). Every page URL answers the same
shell HTML; the script reads the path and fetches its data from the authenticated APIs, so
the shell and the assets are public.
"""

from tracklet.ui.pages import (
    CONTENT_SECURITY_POLICY,
    RESERVED_SEGMENTS,
    STATIC_DIR,
    authorize_page,
    page,
    static_file,
)

__all__ = ["CONTENT_SECURITY_POLICY", "RESERVED_SEGMENTS", "STATIC_DIR", "authorize_page",
           "page", "static_file"]
