"""The export tier: a run's compacted history as immutable Parquet parts in the blob store.

:mod:`.format` (the file layout), :mod:`.writer` and :mod:`.reader` (the files),
:mod:`.key_stats` (per-key statistics written with a part), :mod:`.table` (the
``history_exports`` rows listing a run's parts), :mod:`.files` (local copies of the blobs)
and :mod:`.cache` (decoded footers and row groups kept on ``Storage``).
"""
