"""Reads of a run's history merged from both tiers.

:mod:`.tiers` (``RunHistory``, the merged view inside one read snapshot), :mod:`.pages`
(what the GraphQL history fields answer: pages, sampled records, the first rows),
:mod:`.sampling`, :mod:`.columns` (exact columnar scans), :mod:`.series` (chart series)
and :mod:`.keys` (``historyKeys``).
"""
