"""The export/import benchmark at smoke size: it runs, and it checks every imported row."""

from __future__ import annotations

from benchmarks import transfer


def test_transfer_benchmark_quick(capsys: object) -> None:
    assert transfer.main(["--quick", "--no-readme"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "tracklet import (compacts)" in out and "copy the export folder" in out
