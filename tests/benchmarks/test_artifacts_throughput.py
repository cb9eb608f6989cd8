"""The artifact benchmark records its row in the README's artifact table, wherever that
table sits, not at the end of the file."""

from __future__ import annotations

from pathlib import Path

from benchmarks.artifacts_throughput import add_row


def test_a_row_lands_at_the_end_of_the_artifact_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# B\n\n## Artifacts\n\n| date | run | data | x |\n|---|---|---|---|\n"
                      "| 2026-01-01 | a | b | c |\n\nText after.\n\n## Next\n")
    add_row(readme, "| 2026-02-02 | new | d | e |\n")
    assert readme.read_text() == (
        "# B\n\n## Artifacts\n\n| date | run | data | x |\n|---|---|---|---|\n"
        "| 2026-01-01 | a | b | c |\n| 2026-02-02 | new | d | e |\n\nText after.\n\n## Next\n")
    bare = tmp_path / "bare.md"
    bare.write_text("# B\n")
    add_row(bare, "| 2026-02-02 | new | d | e |\n")
    assert bare.read_text().endswith("| date | run | data | floor (disk copy) | upload | "
                                     "download | server peak RSS |\n|---|---|---|---|---|---|---|\n"
                                     "| 2026-02-02 | new | d | e |\n")
