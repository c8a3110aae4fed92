"""Bib annotation JSON (the exchange format): validated reading, atomic writing.

A file is a list of ``{"image": relpath, "width": W, "height": H, "bibs": [{"number": "1234",
"box": [x1, y1, x2, y2] | null, "confidence": 0.97}]}``; extra keys are ignored on read, except
the optional ``"reviewed": true|false`` that ``predict --json`` and ``export --format json`` write
(``PhotoAnnotation.reviewed``; None when absent or not a boolean; docs/imports.md), the optional
``"recognized": true`` they write on an unreviewed photo a recognizer has looked at (``PhotoAnnotation.recognized``: its
predictions, even none, are what it found; absent: not said) and the optional
``"handout"`` list that ``export --format json`` writes: the photo's state when it was handed out, per
project (``PhotoAnnotation.handouts``, :class:`Handout`; the import's three-way merge, docs/volunteers.md), with the
optional ``"saved"`` stamp of that export (``PhotoAnnotation.saved``, :class:`Saved`: which of the writing project's
saves the file is, and when: docs/volunteers.md#which-file-is-newer).
Errors name the file and the JSON path of the bad entry, e.g. ``pred.json: $[3].bibs[1].box: ...``.
"""

from __future__ import annotations

import codecs
import errno
import json
import math
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from bibtagger_gui.core import portable
from bibtagger_gui.core.bib import Bib


class AnnotationError(ValueError):
    """A malformed annotation file; the message says where and what."""


@dataclass
class Handout:
    """A photo as a project handed it out (one item of an entry's ``"handout"`` list): the *base* the
    import compares the entry (what the receiver made of it) and that project's photo now with."""

    project: str  # the exporting project's id (store meta ``project_id``)
    width: int | None
    height: int | None
    pixel_hash: str | None  # the photo's image-data hash there (core/pixelhash); None/"" = unknown
    reviewed: bool
    bibs: list[Bib] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"project": self.project, "width": self.width, "height": self.height, "pixel_hash": self.pixel_hash,
                "reviewed": self.reviewed, "bibs": [b.to_json() for b in self.bibs]}  # fmt: skip


@dataclass(frozen=True)
class Saved:
    """When and in what order a project wrote a file with hand-out states (an entry's ``"saved"`` key): its
    ``seq``-th such export (store meta ``saves``, counted up by each one), at ``at`` (UTC, ``2026-11-27T23:50:12Z``)."""

    project: str  # the writing project's id: the first hand-out state's
    seq: int
    at: str

    def to_json(self) -> dict:
        return {"project": self.project, "seq": self.seq, "at": self.at}


@dataclass
class PhotoAnnotation:
    image: str
    width: int | None
    height: int | None
    bibs: list[Bib] = field(default_factory=list)
    reviewed: bool | None = None  # the entry's optional "reviewed" key (written by predict/export): None = not said
    handouts: list[Handout] = field(default_factory=list)  # the optional "handout" key (export --format json)
    saved: Saved | None = None  # the optional "saved" key (export --format json): which save of its writer this is
    recognized: bool = False  # the optional "recognized": true (predict/export): a recognizer looked at the photo

    def to_json(self) -> dict:
        out = {"image": self.image, "width": self.width, "height": self.height, "bibs": [b.to_json() for b in self.bibs]}
        if self.reviewed is not None:
            out["reviewed"] = self.reviewed
        if self.recognized:
            out["recognized"] = True
        if self.handouts:
            out["handout"] = [h.to_json() for h in self.handouts]
        if self.saved is not None:
            out["saved"] = self.saved.to_json()
        return out


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AnnotationError(f"{where}: expected a number, got {json.dumps(value)[:40]}")
    return float(value)


def _size(value: Any, where: str) -> int | None:
    if value is None:
        return None
    v = _number(value, where)
    if v <= 0 or v != int(v):
        raise AnnotationError(f"{where}: expected a positive whole number of pixels, got {json.dumps(value)}")
    return int(v)


def _bib(d: Any, where: str) -> Bib:
    if not isinstance(d, dict):
        raise AnnotationError(f"{where}: expected an object with a \"number\", got {type(d).__name__}")
    if "number" not in d:
        raise AnnotationError(f"{where}: missing \"number\"")
    number = d["number"]
    if isinstance(number, bool) or not isinstance(number, (str, int)) or not str(number).strip():
        raise AnnotationError(f"{where}.number: expected a non-empty string, got {json.dumps(number)}")
    box = d.get("box")
    if box is not None:
        if not isinstance(box, list) or len(box) != 4:
            got = f"{len(box)} values" if isinstance(box, list) else json.dumps(box)[:40]
            raise AnnotationError(f"{where}.box: expected [x1, y1, x2, y2] or null, got {got}")
        x1, y1, x2, y2 = (_number(v, f"{where}.box[{i}]") for i, v in enumerate(box))
        if x2 < x1 or y2 < y1:
            raise AnnotationError(f"{where}.box: x2/y2 must not be smaller than x1/y1, got {box}")
        box = (x1, y1, x2, y2)
    conf = d.get("confidence")
    if conf is not None:
        conf = _number(conf, f"{where}.confidence")
        if not 0.0 <= conf <= 1.0:
            raise AnnotationError(f"{where}.confidence: expected 0..1, got {conf}")
    return Bib(str(number).strip(), box, conf)


def parse_handouts(value: Any, where: str) -> list[Handout]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AnnotationError(f"{where}: expected a list of hand-out states, got {type(value).__name__}")
    out = []
    for i, h in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(h, dict):
            raise AnnotationError(f"{at}: expected an object, got {type(h).__name__}")
        project = h.get("project")
        if not isinstance(project, str) or not project:
            raise AnnotationError(f"{at}.project: expected the exporting project's id, got {json.dumps(project)[:40]}")
        bibs = h.get("bibs", [])
        if not isinstance(bibs, list):
            raise AnnotationError(f"{at}.bibs: expected a list, got {type(bibs).__name__}")
        pixels = h.get("pixel_hash")
        out.append(Handout(project, _size(h.get("width"), f"{at}.width"), _size(h.get("height"), f"{at}.height"),
                           pixels if isinstance(pixels, str) else None, h.get("reviewed") is True,
                           [_bib(b, f"{at}.bibs[{j}]") for j, b in enumerate(bibs)]))  # fmt: skip
    return out


def parse_saved(value: Any, where: str) -> Saved | None:
    """An entry's ``"saved"`` stamp (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AnnotationError(f"{where}: expected an object with the saving project, seq and at, got {type(value).__name__}")
    project, seq, at = value.get("project"), value.get("seq"), value.get("at")
    if not isinstance(project, str) or not project:
        raise AnnotationError(f"{where}.project: expected the saving project's id, got {json.dumps(project)[:40]}")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise AnnotationError(f"{where}.seq: expected a whole number from 1, got {json.dumps(seq)[:40]}")
    if not isinstance(at, str):
        raise AnnotationError(f"{where}.at: expected a UTC time such as \"2026-11-27T23:50:12Z\", got {json.dumps(at)[:40]}")
    return Saved(project, seq, at)


def parse_annotations(data: Any, source: str = "annotations") -> list[PhotoAnnotation]:
    """Validate decoded JSON; raises AnnotationError('<source>: $[i].field: problem')."""
    if not isinstance(data, list):
        raise AnnotationError(f"{source}: $: expected a list of photos, got {type(data).__name__}")
    out: list[PhotoAnnotation] = []
    seen: dict[str, int] = {}
    try:
        for i, entry in enumerate(data):
            where = f"$[{i}]"
            if not isinstance(entry, dict):
                raise AnnotationError(f"{where}: expected an object, got {type(entry).__name__}")
            image = entry.get("image")
            if not isinstance(image, str) or not image.strip():
                raise AnnotationError(f"{where}.image: expected a relative path, got {json.dumps(image)}")
            image = image.strip().replace("\\", "/")
            while image.startswith("./"):  # "./a.jpg" is the photo "a.jpg" (eval matches, import finds it)
                image = image[2:]
            if image in seen:
                raise AnnotationError(f"{where}.image: {image!r} already listed at $[{seen[image]}]")
            seen[image] = i
            bibs = entry.get("bibs", [])
            if not isinstance(bibs, list):
                raise AnnotationError(f"{where}.bibs: expected a list, got {type(bibs).__name__}")
            out.append(
                PhotoAnnotation(
                    image,
                    _size(entry.get("width"), f"{where}.width"),
                    _size(entry.get("height"), f"{where}.height"),
                    [_bib(b, f"{where}.bibs[{j}]") for j, b in enumerate(bibs)],
                    entry.get("reviewed") if isinstance(entry.get("reviewed"), bool) else None,
                    parse_handouts(entry.get("handout"), f"{where}.handout"),
                    parse_saved(entry.get("saved"), f"{where}.saved"),
                    entry.get("recognized") is True,
                )
            )
    except AnnotationError as exc:
        raise AnnotationError(f"{source}: {exc}") from None
    return out


def load_annotations(path: str | os.PathLike) -> list[PhotoAnnotation]:
    """Read and validate an annotation file."""
    path = Path(path)
    utf16 = False
    try:
        raw = path.read_bytes()
        # UTF-16 with a byte order mark: Windows PowerShell 5's `ConvertTo-Json … > file.json`, Notepad's "Unicode"
        utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        text = raw.decode("utf-16" if utf16 else "utf-8-sig")
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found") from None
    except UnicodeDecodeError:  # (a UTF-16 file cut short, its last character half there, is not said as UTF-8)
        raise AnnotationError(f"{path}: not {'UTF-16' if utf16 else 'UTF-8'} text"
                              + (" (it starts with UTF-16's byte order mark, then breaks off)" if utf16 else "")) from None
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{_csv_hint(text)}") from None
    except RecursionError:  # lists in lists past the parser's depth (valid JSON, but no annotation file)
        raise AnnotationError(f"{path}: invalid JSON: nested too deeply") from None
    return parse_annotations(data, str(path))


def _csv_hint(text: str) -> str:
    """What a file that is no JSON but reads like CSV (a first line of separated fields, not starting like JSON)
    probably is: a start list or an MTurk batch given to the annotation import; '' otherwise."""
    first = text.lstrip().partition("\n")[0]
    if first[:1] in ("[", "{") or not any(sep in first for sep in (",", ";", "\t")):
        return ""
    return (" (this looks like a CSV file: this import reads bib annotation JSON; a start list goes to File > Import "
            "Start List… or `bibtagger startlist import`, an MTurk batch to Crowd > Import MTurk Batch… or "
            "`bibtagger mturk import`)")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a file so readers see the old or the new content, never a half-written one."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` atomically (temp file + os.replace) beside the file.

    A symlink is kept: its resolved target is replaced. An existing path that is not a
    regular file (a FIFO, /dev/stdout's character device) is written to directly.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # through symlinks: /dev/stdout -> /proc/self/fd/1 -> a pipe
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        with open(path, "wb") as f:
            f.write(data)
        return
    if path.is_symlink():
        path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:  # mkstemp makes 0600 files: keep the replaced file's mode, else the usual 0644
            mode = path.stat().st_mode & 0o777
        except OSError:
            mode = 0o644
        os.chmod(tmp, mode)
        portable.replace(tmp, path)  # Windows: waits briefly for a program holding the file open
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise
    with _suppress():
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


def dump_annotations(items: Iterable[PhotoAnnotation | dict]) -> list[dict]:
    """Exchange-format dicts; dicts are validated (and normalised) on the way."""
    items = list(items)
    if items and all(isinstance(x, PhotoAnnotation) for x in items):
        return [x.to_json() for x in items]  # type: ignore[union-attr]
    raw = [x.to_json() if isinstance(x, PhotoAnnotation) else x for x in items]
    parse_annotations(raw, "annotations to write")
    return raw


def save_annotations(path: str | os.PathLike, items: Iterable[PhotoAnnotation | dict]) -> None:
    """Validate and write an annotation file atomically (temp file + os.replace)."""
    atomic_write_text(path, json.dumps(dump_annotations(items), indent=1, ensure_ascii=False) + "\n")
