"""Find bold / condensed TTF/OTF fonts installed by the Makefile's SYSDEPS (Debian font packages)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
# Name fragments that make a face look like a race-bib number (heavy strokes, often narrow).
_GOOD = ("bold", "black", "heavy", "condensed", "narrow", "medium")
# Faces that read badly as bib digits (serif italics, monospace) are kept out.
_BAD = ("italic", "oblique", "mono", "serif", "c059", "p052", "roman", "light", "thin", "bdita", "z003", "dingbat", "symbol", "d050000l")


class FontError(RuntimeError):
    """No usable font was found."""


def _is_good(name: str) -> bool:
    low = name.lower()
    return any(g in low for g in _GOOD) and not any(b in low for b in _BAD)


@functools.lru_cache(maxsize=4)
def find_fonts(dirs: tuple[str, ...] | None = None) -> tuple[Path, ...]:
    """All bold/condensed sans TTF/OTF fonts under `dirs` (default: system font dirs), sorted.

    Raises FontError with a hint to run `make sysdeps` when none are found.
    """
    roots = [Path(d) for d in dirs] if dirs else list(FONT_DIRS)
    extra = os.environ.get("BIBTAGGER_FONT_DIR")
    if extra and not dirs:
        roots.append(Path(extra))
    found = set()
    for root in roots:
        if not root.is_dir():
            continue
        for p in root.rglob("*"):
            if p.suffix.lower() in (".ttf", ".otf") and _is_good(p.stem):
                found.add(p)
    if not found:
        raise FontError(
            f"no bold/condensed TTF/OTF fonts found under {', '.join(map(str, roots))}; "
            "run `make sysdeps` (installs fonts-dejavu-core, fonts-liberation2, fonts-roboto-unhinted, ...)"
        )
    return tuple(sorted(found))


@functools.lru_cache(maxsize=4)
def find_text_fonts(dirs: tuple[str, ...] | None = None) -> tuple[Path, ...]:
    """Any sans TTF/OTF (regular or bold, incl. italics) for the small sponsor lines; falls back to find_fonts."""
    roots = [Path(d) for d in dirs] if dirs else list(FONT_DIRS)
    extra = os.environ.get("BIBTAGGER_FONT_DIR")
    if extra and not dirs:
        roots.append(Path(extra))
    found = set()
    for root in roots:
        if not root.is_dir():
            continue
        for p in root.rglob("*"):
            low = p.stem.lower()
            if p.suffix.lower() in (".ttf", ".otf") and ("sans" in low or "roboto" in low) and "mono" not in low:
                found.add(p)
    return tuple(sorted(found)) or find_fonts(dirs)
