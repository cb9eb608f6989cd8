"""The e2e fixtures (a live ``tracklet server``, SDK environments, ``wandb.Api()``)."""

from tests.e2e.conftest import api, live_server, sdk  # noqa: F401
