"""Run history, system-metric events and console lines, in two tiers.

:mod:`.live` holds what arrived since a run last ended, in the metadata DB; :mod:`.export`
holds immutable Parquet parts in the blob store; :mod:`.compaction` moves rows from the
first to the second; :mod:`.read` merges both for every read. :mod:`.rows` and
:mod:`.jsonline` are the row vocabulary they share. Imports flow
``rows/jsonline <- live, export <- read <- compaction``.
"""
