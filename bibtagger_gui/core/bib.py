"""The value type every part of bibtagger exchanges: one bib on one photo, and how numbers match.

Numbers are stored exactly as read or typed. User-facing lookups (``find``, the GUI search,
start lists, runner names) compare :func:`number_key`, which treats leading zeros as
insignificant: "891", "0891" and "00891" are one bib; "A012" and "A12" are one bib (the
zeros after a letter prefix count likewise); a number of only zeros ("0", "00") stays itself.
Evaluation against dataset labels (after NFKC: :func:`label_number`) and MTurk agreement compare the exact
strings (docs/bib-numbers.md).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

Box = tuple[float, float, float, float]


def iou(a: Box | None, b: Box | None) -> float:
    """Intersection over union of two x1,y1,x2,y2 boxes (0 when either is missing): the one the store, the review,
    the evaluation, MTurk's consensus and the training labels all use."""
    if a is None or b is None:
        return 0.0
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0

# the invisible characters a copy from a web page or a PDF carries: zero-width space/joiners, word joiner, BOM
_INVISIBLE_CHARS = "\u200b-\u200d\u2060\ufeff"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]+")
_SPACES = re.compile(f"[\\s{_INVISIBLE_CHARS}]+")  # whitespace and those


def _plain(text: object) -> str:
    """``text`` in NFKC: full-width digits and letters (a Japanese or Chinese spreadsheet's "１８１", an IME in
    full-width mode) are the ASCII ones they show, so they match the recognizer's reads."""
    return unicodedata.normalize("NFKC", str(text))


def label_number(number: str) -> str:
    """A number as a label is judged (evaluation against a ground truth): in NFKC and without zero-width
    characters, as :func:`clean_number` takes it, so a ground truth's full-width "１８１" is the recognizer's 181;
    otherwise exact (case, spaces, leading zeros kept: a reader that drops a printed zero is wrong). The identity
    on ASCII text, so no score of ASCII labels changes (docs/bib-numbers.md)."""
    return number if number.isascii() else _INVISIBLE.sub("", _plain(number))


# Zeros after an optional letter prefix, when a digit 1-9 follows them (so "00" and "A00" keep theirs).
_LEADING_ZEROS = re.compile(r"^([A-Z]*)0+(?=[1-9])")


# Both are pure and called for every bib of every photo on each search keystroke (10,000 photos:
# ~13,000 regex substitutions, ~120 ms a keystroke); shoots repeat a few thousand numbers, so a
# cache makes a keystroke cost lookups (`make bench-app` measures it). typed: 1 and True are other inputs.
@lru_cache(maxsize=1 << 16, typed=True)
def clean_number(number: str) -> str:
    """A number as written, tidied: whitespace removed (also inside), upper case, full-width characters made
    plain (NFKC). "a 12 " -> "A12", "１２" -> "12"."""
    return _SPACES.sub("", _plain(number)).upper()


@lru_cache(maxsize=1 << 16, typed=True)
def number_key(number: str) -> str:
    """What two numbers must share to be the same bib in a lookup: :func:`clean_number` without
    leading zeros ("0891" -> "891", "a012" -> "A12"); a run of only zeros stays ("00" -> "00")."""
    return _LEADING_ZEROS.sub(r"\1", clean_number(number), count=1)


def number_order(numbers: Iterable[str]) -> list[str]:
    """Bib numbers in reading order: shorter first, then as written ("9", "18", "99", "100")."""
    return sorted(numbers, key=lambda n: (len(n), n))


def numbers_said(numbers: Iterable[str]) -> str:
    """"18, 99" (bib numbers in :func:`number_order`), or "no bib" for none: how a message names a photo's bibs."""
    return ", ".join(number_order(numbers)) or "no bib"


def number_matches(number: str, query: str, prefix: bool = False) -> bool:
    """Whether ``number`` is the bib ``query`` names (same :func:`number_key`), or with ``prefix``
    starts with it: by key ("08" finds 891 and 0891 like "8" does), or as written (so a prefix
    of only zeros, "0", finds the numbers written with a leading zero)."""
    if not prefix:
        return number_key(number) == number_key(query)
    return number_key(number).startswith(number_key(query)) or clean_number(number).startswith(clean_number(query))


#: The longest bib number a person gives: what the GUI's number field takes, and what an import keeps.
MAX_NUMBER_LENGTH = 12


def given_number(text: object) -> str:
    """A bib number as a person gives it (typed in the GUI, read from an imported annotation file): NFKC (full-width
    "１２" is 12), whitespace and zero-width characters removed, inside too ("12 34" is 1234: no bib prints a space,
    and "BIB:12 34" would split as a keyword), case kept. ValueError, saying why, when nothing is left or it is
    longer than :data:`MAX_NUMBER_LENGTH`."""
    number = _SPACES.sub("", _plain(text))
    if not number:
        raise ValueError("a bib number cannot be empty")
    if len(number) > MAX_NUMBER_LENGTH:
        raise ValueError(f"{number[:MAX_NUMBER_LENGTH + 8]!r} is no bib number (longer than {MAX_NUMBER_LENGTH} characters)")
    return number


def given_number_change(text: str) -> str:
    """Why :func:`given_number` gives another number than ``text`` (what an import's note says of it): full-width
    characters read as plain ones (NFKC), invisible characters dropped, spaces dropped."""
    plain = _plain(text)
    why = []
    if plain != text:
        why.append("full-width characters read as plain ones")
    if _INVISIBLE.search(text):
        why.append("invisible characters dropped")
    if any(ch.isspace() for ch in plain):
        why.append("a bib number has no spaces")
    return "; ".join(why) or "a bib number has no spaces"


@dataclass(frozen=True)
class Bib:
    """A bib number, its box (x1, y1, x2, y2 in oriented-image pixels) and confidence."""

    number: str
    box: Box | None
    confidence: float | None = None

    def to_json(self) -> dict:
        d: dict = {"number": self.number, "box": list(self.box) if self.box is not None else None}
        if self.confidence is not None:
            d["confidence"] = round(float(self.confidence), 4)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Bib":
        box = d.get("box")
        conf = d.get("confidence")
        return cls(
            number=str(d["number"]),
            box=tuple(float(v) for v in box) if box is not None else None,  # type: ignore[arg-type]
            confidence=float(conf) if conf is not None else None,
        )
