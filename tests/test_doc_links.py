"""Every design note (``docs/<name>.md``, optionally ``#anchor``) named in the project's code and docs exists.

Help texts, comments and notes point readers at design notes; a renamed heading or a section
that was never written leaves them pointing nowhere.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"docs/([\w.-]+\.md)(?:#([\w-]+))?")
ANCHOR = re.compile(r'<a id="([\w-]+)">')
HEADING = re.compile(r"^#+\s+(.*?)\s*$", re.M)


def heading_slug(title: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    title = re.sub(r"[`*_]", "", title.strip().lower())
    return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    text = doc.read_text(encoding="utf-8")
    return set(ANCHOR.findall(text)) | {heading_slug(t) for t in HEADING.findall(text)}


def tracked_sources() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        names = out.splitlines()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist, say)
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts]
    keep = (".py", ".md", ".spec", ".toml")
    return [ROOT / n for n in names if n.endswith(keep) or n == "Makefile"]


def test_heading_slug_follows_github():
    assert heading_slug("Tried: teaching the reader to read nothing") == "tried-teaching-the-reader-to-read-nothing"
    assert heading_slug("Digit width (`squeeze`)") == "digit-width-squeeze"


def test_doc_references_resolve():
    docs = ROOT / "docs"
    known: dict[str, set[str]] = {}
    broken = []
    sources = tracked_sources()
    if not sources:
        pytest.fail("no project files found")
    for path in sources:
        if not path.exists():
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for name, anchor in LINK.findall(line):
                doc = docs / name
                where = f"{path.relative_to(ROOT)}:{lineno}: docs/{name}" + (f"#{anchor}" if anchor else "")
                if not doc.exists():
                    broken.append(where + " (no such file)")
                    continue
                if anchor:
                    if name not in known:
                        known[name] = anchors(doc)
                    if anchor not in known[name]:
                        broken.append(where + " (no such anchor)")
    assert not broken, "broken references to docs:\n" + "\n".join(broken)
