"""The project's Markdown points only inside the project: a relative link (or a path written
as ``../something``) must name a file of this repository, so a reader with the repository
alone never meets a dead link."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_PATH = re.compile(r"`(\.\./[^`\s]*)`")


def _markdown_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard", "*.md"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    return [ROOT / name for name in listed if name and "node_modules" not in name]


def _outside_or_missing(md: Path, root: Path = ROOT) -> list[str]:
    text = md.read_text(encoding="utf-8")
    bad = []
    targets = [m.group(1) for m in _LINK.finditer(text)] + _CODE_PATH.findall(text)
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (https:, mailto:) or an anchor on the same page
        path = (md.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(root):
            bad.append(f"{md.relative_to(root)}: {target} is outside the repository")
        elif not path.exists():
            bad.append(f"{md.relative_to(root)}: {target} does not exist")
    return bad


def test_markdown_links_stay_inside_the_repository() -> None:
    files = _markdown_files()
    assert ROOT / "README.md" in files and ROOT / "docs" / "architecture.md" in files
    bad = [problem for md in files for problem in _outside_or_missing(md)]
    assert bad == []


def test_the_checker_sees_a_link_out_of_the_repository(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("# r\n")
    probe = root / "docs" / "probe.md"
    probe.write_text("See [the design](../../shared/ARCHITECTURE.md), `../nowhere.txt`, "
                     "[the README](../README.md \"title\") and [W&B](https://wandb.ai).\n")
    assert _outside_or_missing(probe, root) == [
        "docs/probe.md: ../../shared/ARCHITECTURE.md is outside the repository",
        "docs/probe.md: ../nowhere.txt does not exist",
    ]


def test_the_readme_links_the_architecture() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/architecture.md)" in readme
