"""The README stays a short front page (≤ 8 KB with the two commands and the three URLs), and every
relative link in it, in docs/ and in CHANGELOG.md points at a file (and heading) that exists."""
from __future__ import annotations

import re

from bot.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(markdown: str) -> set:
    """GitHub's heading anchors: lower-case, punctuation dropped, spaces → hyphens."""
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", markdown, re.M)}


def test_the_readme_is_short_and_has_the_two_commands_and_three_urls():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 8 * 1024
    for needed in ("make run", "make test", "http://127.0.0.1:5005/ ", "http://127.0.0.1:5005/staff",
                   "http://127.0.0.1:5005/admin"):
        assert needed in text, needed


def test_every_relative_link_resolves():
    documents = [README, PROJECT_ROOT / "CHANGELOG.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    broken = []
    for document in documents:
        for target in LINK.findall(document.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto
            path, _, anchor = target.partition("#")
            linked = (document.parent / path).resolve() if path else document
            if not linked.exists():
                broken.append(f"{document.name}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text(encoding="utf-8")):
                broken.append(f"{document.name}: {target} (no such heading)")
    assert broken == []
