"""The ``tracklet`` command line: thin wrappers over the library."""

from tracklet.cli.main import cli

__all__ = ["cli"]
