"""The live tier: history, events and console lines of running runs in the metadata DB.

:mod:`.chunks` (how history lines are packed), :mod:`.write` and :mod:`.read` (the tier's
rows), :mod:`.projection` (decoding a few keys of many lines), :mod:`.columns` (live rows
as numeric columns, for chart series) and :mod:`.stats` (per-key type counts).
"""
