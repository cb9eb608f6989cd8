"""Sweeps: the sweep configuration W&B defines, its parameter space and the search methods.

* :mod:`.config` parses and validates a sweep config (``SweepSpec``),
* :mod:`.space` holds the parameter distributions (sampling, grids, the bayes space),
* :mod:`.search` proposes the next parameter set from what the sweep has run so far,
* :mod:`.hyperband` decides which runs early termination stops.
"""
