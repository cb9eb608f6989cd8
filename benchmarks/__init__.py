"""Benchmarks: ``python -m benchmarks.<name>``; results are tabulated in benchmarks/README.md.

Each figure is a ratio against a floor or a peer measured in the same run, never an
absolute timing taken as a pass/fail threshold.
"""
