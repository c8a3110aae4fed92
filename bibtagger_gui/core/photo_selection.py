"""Which photos an export takes: a list file, glob patterns, unreviewed only (``export --photos/--only``).

Used to hand a part of a shoot to a volunteer (docs/volunteers.md): the organiser exports the
exchange JSON of photos 1-300 only, so the volunteer's import lists no 2,700 "no such photo" lines.
A list names one photo per line, as ``image`` names are matched on import (relative path, else a
file name that only one photo has; ``#`` comments and blank lines skipped). A pattern is a glob
on the relative path (``*`` also crosses ``/``), compared in NFC like the names.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Callable, Iterable

from bibtagger_gui.core.portable import nfc


@dataclass
class Selection:
    """The filter (None: every photo), the list lines that named no photo (line number, text, why) and
    those matched by their file name alone (line number, text, the photo's relpath; ``name_match``)."""

    only: Callable[[Any], bool] | None
    unmatched: list[tuple[int, str, str]] = field(default_factory=list)
    by_name: list[tuple[int, str, str]] = field(default_factory=list)


def read_list(path: str | Path) -> list[tuple[int, str]]:
    """(line number, name) of a photo list file: UTF-16 with a byte order mark (Windows PowerShell 5's ``>``, Notepad's
    "Unicode"), else UTF-8 (BOM or not), else cp1252 (an older Notepad). Raises OSError, or ValueError for a file
    that is no text (binary data) or not UTF-16 after its mark."""
    raw = Path(path).read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = raw.decode("utf-16")
    elif b"\x00" in raw:
        raise ValueError("not a text file (it holds binary data)")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    lines = text.splitlines()
    return [(i, s.strip()) for i, s in enumerate(lines, 1) if s.strip() and not s.strip().startswith("#")]


def select_photos(store: Any, names: Iterable[tuple[int, str]] | None = None, patterns: Iterable[str] = (),
                  unreviewed_only: bool = False) -> Selection:  # fmt: skip
    """A photo passes when it is listed (if ``names`` is given), matches one of ``patterns`` (if any)
    and is unreviewed (if ``unreviewed_only``)."""
    from bibtagger_gui.core.importers import _PhotoIndex  # the import's matching: a list made elsewhere works too

    ids: set[int] | None = None
    sel = Selection(None)
    if names is not None:
        names = list(names)
        index, ids = _PhotoIndex(store), set()
        index.claim_exact(name for _, name in names)  # a listed path is that photo's, never another line's by name
        for line, name in names:
            photo, how = index.find(name)
            if photo is None:
                sel.unmatched.append((line, name, "no such photo in the folder" if how == "missing" else how))
            else:
                ids.add(photo.id)
                if how == "name":
                    sel.by_name.append((line, name, photo.relpath))
    globs = [nfc(p.replace("\\", "/")) for p in patterns]

    def only(photo: Any) -> bool:
        if ids is not None and photo.id not in ids:
            return False
        if globs and not any(fnmatchcase(nfc(photo.relpath), g) for g in globs):
            return False
        return not (unreviewed_only and photo.reviewed)

    if ids is not None or globs or unreviewed_only:
        sel.only = only
    return sel
