"""The README is a map: every page it and the docs link to exists, every anchor names a heading there."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# [text](target) outside code spans; images too. Targets with a scheme (https:, mailto:) are not ours to check.
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def _tracked_markdown() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if not name.startswith(("tests/", "corpus/", "evaluation/"))]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*|_(?=\w)|(?<=\w)_", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text())
    seen: dict[str, int] = {}
    anchors = set()
    for line in text.splitlines():
        if match := re.match(r"#{1,6} (.+)", line):
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(page: Path) -> list[str]:
    text = _CODE_SPAN.sub("", _FENCE.sub("", page.read_text()))
    return [target for target in _LINK.findall(text) if not re.match(r"[a-z]+:", target)]


PAGES = _tracked_markdown()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_reaches_a_file_and_heading(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, broken


def test_the_readme_is_a_map_of_the_docs() -> None:
    readme = ROOT / "README.md"
    assert len(readme.read_text().splitlines()) <= 200
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in _links(readme)}
    pages = set((ROOT / "docs").glob("*.md"))
    assert pages and pages <= linked, sorted(str(p.relative_to(ROOT)) for p in pages - linked)


def test_the_slug_rule_matches_githubs() -> None:
    assert _slug("Where the state lives") == "where-the-state-lives"
    assert _slug("The `pipeline` command") == "the-pipeline-command"
    assert _slug("Without azd: `func azure functionapp publish`") == "without-azd-func-azure-functionapp-publish"
    assert _slug("Durable features of the embedded host") == "durable-features-of-the-embedded-host"
