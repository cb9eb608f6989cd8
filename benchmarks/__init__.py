"""tracklet benchmarks: one module per workload, each figure a ratio against a floor or a peer.

Run ``python -m benchmarks`` for the list.
"""
