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


def _font_roots(dirs: tuple[str, ...] | None) -> list[Path]:
    """`dirs`, or the system font dirs plus $BIBTAGGER_FONT_DIR when set."""
    if dirs:
        return [Path(d) for d in dirs]
    extra = os.environ.get("BIBTAGGER_FONT_DIR")
    return list(FONT_DIRS) + ([Path(extra)] if extra else [])


def _scan(roots: list[Path], keep) -> set[Path]:
    """TTF/OTF files under `roots` whose stem passes `keep`."""
    return {p for root in roots if root.is_dir() for p in root.rglob("*")
            if p.suffix.lower() in (".ttf", ".otf") and keep(p.stem)}


@functools.lru_cache(maxsize=4)
def find_fonts(dirs: tuple[str, ...] | None = None) -> tuple[Path, ...]:
    """All bold/condensed sans TTF/OTF fonts under `dirs` (default: system font dirs), sorted.

    Raises FontError with a hint to run `make sysdeps` when none are found.
    """
    roots = _font_roots(dirs)
    found = _scan(roots, _is_good)
    if not found:
        raise FontError(
            f"no bold/condensed TTF/OTF fonts found under {', '.join(map(str, roots))}; "
            "run `make sysdeps` (installs fonts-dejavu-core, fonts-liberation2, fonts-roboto-unhinted, ...)"
        )
    return tuple(sorted(found))


def _is_text_face(stem: str) -> bool:
    low = stem.lower()
    return ("sans" in low or "roboto" in low) and "mono" not in low


@functools.lru_cache(maxsize=4)
def find_text_fonts(dirs: tuple[str, ...] | None = None) -> tuple[Path, ...]:
    """Any sans TTF/OTF (regular or bold, incl. italics) for the small sponsor lines; falls back to find_fonts."""
    return tuple(sorted(_scan(_font_roots(dirs), _is_text_face))) or find_fonts(dirs)
