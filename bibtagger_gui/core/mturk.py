"""Amazon Mechanical Turk batch review, without MTurk's web UI (Qt-free).

Workflow (see docs/mturk.md): :func:`read_batch` parses a "Batch_NNN_batch_results.csv"
downloaded from the requester site, :func:`match_photos` finds the photos in a folder or
:class:`~bibtagger_gui.core.store.Store`, the reviewer records a :class:`Verdict` per
assignment in a :class:`VerdictStore` (``.bibtagger/mturk.db``, one transaction per
verdict), and :func:`export_batch` writes the same CSV back with the ``Approve`` /
``Reject`` columns filled the way MTurk's "Upload CSV" expects.

Malformed rows never stop the reading: each becomes a :class:`BatchError` carrying the
physical CSV line number where the record starts, and the row is written back unchanged.
"""

from __future__ import annotations

import contextlib
import csv
import inspect
import io
import json
import math
import os
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Container, Iterable, Iterator, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from bibtagger_gui.core.annotations import atomic_write_bytes
from bibtagger_gui.core.bib import Bib, iou
from bibtagger_gui.core.name_match import by_folders, describe_candidates, shared_tail
from bibtagger_gui.core.portable import name_key, nfc

# --------------------------------------------------------------------------- constants

COL_HIT = "HITId"
COL_ASSIGNMENT = "AssignmentId"
COL_WORKER = "WorkerId"
COL_STATUS = "AssignmentStatus"
COL_FEEDBACK = "RequesterFeedback"
COL_WORK_TIME = "WorkTimeInSeconds"
COL_IMAGE = "Input.objects_to_find"
COL_IMAGE_URL = "Input.image_url"
COL_ANSWER = "Answer.annotation_data"
COL_APPROVE = "Approve"
COL_REJECT = "Reject"
REQUIRED_COLUMNS = (COL_HIT, COL_ASSIGNMENT, COL_WORKER, COL_STATUS, COL_ANSWER)

STATUS_SUBMITTED = "Submitted"
STATUS_APPROVED = "Approved"
STATUS_REJECTED = "Rejected"
FINAL_STATUSES = frozenset({STATUS_APPROVED, STATUS_REJECTED})

#: MTurk limits RequesterFeedback to 1024 characters.
MAX_FEEDBACK = 1024
DEFAULT_REJECT_FEEDBACK = "Bib number not entered correctly"
#: Two boxes for the same number "agree" at or above this IoU.
AGREE_IOU = 0.5
#: Boxes may overshoot the photo by this many pixels before they count as outside.
BOUNDS_SLACK = 1.0

FLAG_NON_DIGIT = "non-digit"
FLAG_EMPTY = "empty"
FLAG_BAD_ANSWER = "bad-answer"
FLAG_OUTSIDE = "outside-image"
FLAG_DISAGREEMENT = "disagreement"
FLAG_MISSING_PHOTO = "missing-photo"
FLAG_AMBIGUOUS_PHOTO = "ambiguous-photo"  # several photos of the folder could be the HIT's image: none is taken
FLAG_LABELS = {
    FLAG_NON_DIGIT: "non-digit label",
    FLAG_EMPTY: "empty answer",
    FLAG_BAD_ANSWER: "malformed answer",
    FLAG_OUTSIDE: "box outside the photo",
    FLAG_DISAGREEMENT: "workers disagree",
    FLAG_MISSING_PHOTO: "photo missing",
    FLAG_AMBIGUOUS_PHOTO: "photo name matches several files",
}
#: the flags that say the HIT's photo was not found (left out of the "flagged assignments" lists of a summary,
#: which list the photos themselves)
PHOTO_NOT_FOUND = frozenset({FLAG_MISSING_PHOTO, FLAG_AMBIGUOUS_PHOTO})

ROW_PROBLEMS_SHOWN = 10  # problems (or odd labels) said of one answer; the rest are counted, not listed
_DIGITS = re.compile(r"[0-9]+")


class BatchFormatError(ValueError):
    """The file as a whole is not a usable MTurk batch CSV (unreadable, no header, key columns missing)."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class BatchError:
    """A problem with one CSV record; ``line`` is the physical line where the record starts (header = 1)."""

    line: int
    message: str
    assignment_id: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class MTurkBox:
    """One box a worker drew, in photo pixels (x1, y1, x2, y2), with the label exactly as typed."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str

    @property
    def number(self) -> str:
        """The label with surrounding blanks removed (what a bib number is compared on)."""
        return self.label.strip()

    @property
    def is_digit(self) -> bool:
        return bool(_DIGITS.fullmatch(self.number))

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)


@dataclass
class Assignment:
    """One worker's answer to one HIT (one CSV row)."""

    line: int  # CSV line where the record starts
    row_index: int  # index into Batch.rows
    hit_id: str
    assignment_id: str
    worker_id: str
    status: str  # Submitted | Approved | Rejected (as in the file)
    image: str  # Input.objects_to_find (photo file name)
    image_url: str = ""
    boxes: list[MTurkBox] = field(default_factory=list)
    feedback: str = ""
    work_time: int | None = None
    flags: set[str] = field(default_factory=set)  # found in the CSV itself
    photo_flags: set[str] = field(default_factory=set)  # found by match_photos
    notes: list[str] = field(default_factory=list)  # human explanations of the flags
    photo_notes: list[str] = field(default_factory=list)  # of the photo flags (match_photos): the files a name matched

    @property
    def pending(self) -> bool:
        """True while MTurk still accepts a verdict (status Submitted)."""
        return self.status == STATUS_SUBMITTED

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def all_flags(self) -> set[str]:
        return self.flags | self.photo_flags

    @property
    def all_notes(self) -> list[str]:
        """The explanations of :attr:`all_flags`: the CSV's, then the photo match's."""
        return self.notes + self.photo_notes

    @property
    def numbers(self) -> list[str]:
        return [b.number for b in self.boxes]


@dataclass
class Batch:
    """A parsed batch results CSV; ``header`` and ``rows`` keep the raw text for export."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    assignments: list[Assignment]
    errors: list[BatchError]
    encoding: str = "utf-8"
    bom: bool = False
    newline: str = "\r\n"
    disagreements: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id: dict[str, Assignment] = {a.assignment_id: a for a in self.assignments}
        self.images: dict[str, list[Assignment]] = {}
        for a in self.assignments:
            self.images.setdefault(a.image, []).append(a)

    def assignment(self, assignment_id: str) -> Assignment | None:
        return self.by_id.get(assignment_id)

    def consensus(self, image: str, min_workers: int = 2, rejected: Container[str] = ()) -> list[Bib]:
        return consensus(self.images.get(image, []), min_workers=min_workers, rejected=rejected)

    def counts(self) -> dict[str, int]:
        statuses: dict[str, int] = {}
        for a in self.assignments:
            statuses[a.status] = statuses.get(a.status, 0) + 1
        return {
            "assignments": len(self.assignments),
            "images": len(self.images),
            "images_with_several": sum(1 for v in self.images.values() if len(v) > 1),
            "workers": len({a.worker_id for a in self.assignments}),
            "errors": len(self.errors),
            **{f"status:{k}": v for k, v in sorted(statuses.items())},
        }


# --------------------------------------------------------------------------- reading


def _decode(data: bytes) -> tuple[str, str, bool]:
    """(text, encoding, had_bom): UTF-8, else cp1252 (Excel on Windows), else latin-1 (never fails)."""
    bom = data.startswith(b"\xef\xbb\xbf")
    if bom:
        data = data[3:]
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:  # a UTF-8 BOM before a cp1252 body is not kept: written back it would say UTF-8 over cp1252 bytes
            return data.decode(encoding), encoding, bom and encoding == "utf-8"
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        v = float(value)
    elif isinstance(value, str):
        try:
            v = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return v if math.isfinite(v) else None


def _parse_answer(text: str) -> tuple[list[MTurkBox], list[str], bool]:
    """(boxes, problems, negative_position) for one Answer.annotation_data cell."""
    text = text.strip()
    if not text:
        return [], [], False
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [f"{COL_ANSWER} is not valid JSON ({exc.msg}: char {exc.pos})"], False
    except RecursionError:  # lists in lists past the parser's depth: no worker's answer
        return [], [f"{COL_ANSWER} is not valid JSON (nested too deeply)"], False
    if isinstance(data, dict):  # crowd-bounding-box style {"boundingBoxes": [...]}
        for key in ("boundingBoxes", "annotations", "boxes"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            if not data:
                return [], [], False
            return [], [f"{COL_ANSWER} is a JSON object without a list of boxes"], False
    if not isinstance(data, list):
        return [], [f"{COL_ANSWER} is not a JSON list of boxes"], False
    boxes: list[MTurkBox] = []
    problems: list[str] = []
    negative = False
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            problems.append(f"box {i} is not an object")
            continue
        vals = {k: _number(item.get(k)) for k in ("left", "top", "width", "height")}
        bad = [k for k, v in vals.items() if v is None]
        if bad:
            problems.append(f"box {i}: missing or non-numeric {', '.join(bad)}")
            continue
        if vals["width"] <= 0 or vals["height"] <= 0:
            problems.append(f"box {i}: width and height must be positive (width={vals['width']:g}, height={vals['height']:g})")
            continue
        if vals["left"] < 0 or vals["top"] < 0:
            negative = True
        label = item.get("label", "")
        label = "" if label is None else str(label)
        x1, y1 = vals["left"], vals["top"]
        boxes.append(MTurkBox(x1, y1, x1 + vals["width"], y1 + vals["height"], label))
    return boxes, _first(problems, "box problems"), negative


def _first(items: list[str], what: str) -> list[str]:
    """The first :data:`ROW_PROBLEMS_SHOWN` of ``items`` and a count of the rest: an answer of 100,000 broken
    boxes gave 100,000 row errors (and a note as long), where the first ones say what is wrong."""
    if len(items) <= ROW_PROBLEMS_SHOWN:
        return items
    return items[:ROW_PROBLEMS_SHOWN] + [f"… and {len(items) - ROW_PROBLEMS_SHOWN:,} more {what}"]


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(start line, fields) per CSV record; blank lines are skipped."""
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))  # answers with many boxes are long
    reader = csv.reader(io.StringIO(text, newline=""))
    last = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        start, last = last + 1, reader.line_num
        if fields:
            yield start, fields


def read_batch(csv_path: str | os.PathLike) -> Batch:
    """Parse a batch results CSV. Raises :class:`BatchFormatError` only when the file as a whole is unusable."""
    path = Path(csv_path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BatchFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    text, encoding, bom = _decode(data)
    if text.count('"') % 2:  # quotes come in pairs ("" inside a field too): an odd count ends inside a field
        raise BatchFormatError(f"{path}: the file ends inside a quoted field (a truncated download?); download the batch results again")
    newline = "\r\n" if "\r\n" in text[:100_000] else "\n"
    records: list[tuple[int, list[str]]] = []
    try:
        for rec in _records(text):
            records.append(rec)
    except csv.Error as exc:
        after = records[-1][0] if records else 0
        raise BatchFormatError(f"{path}: unreadable CSV after line {after} ({exc})") from None
    if not records:
        raise BatchFormatError(f"{path}: empty file")
    header_line, header = records[0]
    names = [h.strip() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if COL_IMAGE not in names and COL_IMAGE_URL not in names:
        missing.append(COL_IMAGE)
    if missing:
        raise BatchFormatError(f"{path}: line {header_line}: not an MTurk batch results file (missing columns: {', '.join(missing)})")
    col = {n: i for i, n in reversed(list(enumerate(names)))}  # first occurrence wins
    last_required = max(col[c] for c in REQUIRED_COLUMNS)

    rows: list[list[str]] = [header]
    assignments: list[Assignment] = []
    errors: list[BatchError] = []
    seen: dict[str, int] = {}
    for line, fields in records[1:]:
        rows.append(fields)
        row_index = len(rows) - 1

        def get(name: str) -> str:
            i = col.get(name)
            return fields[i] if i is not None and i < len(fields) else ""

        if len(fields) > len(header):
            errors.append(BatchError(line, f"row has {len(fields)} fields but the header has {len(header)} (unquoted comma?); skipped"))
            continue
        if len(fields) <= last_required:
            absent = [c for c in REQUIRED_COLUMNS if col[c] >= len(fields)]
            errors.append(BatchError(line, f"row has only {len(fields)} fields, missing columns: {', '.join(absent)}; skipped"))
            continue
        aid = get(COL_ASSIGNMENT).strip()
        if not aid:
            errors.append(BatchError(line, f"empty {COL_ASSIGNMENT}; skipped"))
            continue
        if aid in seen:
            errors.append(BatchError(line, f"duplicate {COL_ASSIGNMENT} {aid} (first on line {seen[aid]}); skipped", aid))
            continue
        seen[aid] = line
        image = get(COL_IMAGE).strip() or image_name_from_url(get(COL_IMAGE_URL).strip())
        status = get(COL_STATUS).strip()
        wt = get(COL_WORK_TIME).strip()
        a = Assignment(
            line=line,
            row_index=row_index,
            hit_id=get(COL_HIT).strip(),
            assignment_id=aid,
            worker_id=get(COL_WORKER).strip(),
            status=status,
            image=image,
            image_url=get(COL_IMAGE_URL).strip(),
            feedback=get(COL_FEEDBACK),
            work_time=int(wt) if wt.isdigit() else None,
        )
        if status not in FINAL_STATUSES and status != STATUS_SUBMITTED:
            errors.append(BatchError(line, f"unknown {COL_STATUS} {status!r}; treated as not reviewable", aid))
        if not image:
            errors.append(BatchError(line, f"no photo name ({COL_IMAGE} and {COL_IMAGE_URL} empty)", aid))
        boxes, problems, negative = _parse_answer(get(COL_ANSWER))
        a.boxes = boxes
        for p in problems:
            errors.append(BatchError(line, p, aid))
        if problems:
            a.flags.add(FLAG_BAD_ANSWER)
            a.notes.append("; ".join(problems))
        if negative:
            a.flags.add(FLAG_OUTSIDE)
            a.notes.append("box with negative position")
        if not boxes and not problems:
            a.flags.add(FLAG_EMPTY)
            a.notes.append("no box drawn")
        odd = [b.label for b in boxes if not b.is_digit]
        if odd:
            a.flags.add(FLAG_NON_DIGIT)
            a.notes.append("non-digit label(s): " + ", ".join(_first([repr(x) for x in odd], "labels")))
        assignments.append(a)

    _tell_shared_names_apart(assignments)
    batch = Batch(path, header, rows, assignments, errors, encoding, bom, newline)
    _find_disagreements(batch)
    return batch


# --------------------------------------------------------------------------- agreement


def _match_boxes(a: list[Sequence[float]], b: list[Sequence[float]], threshold: float) -> tuple[int, float]:
    """Greedy IoU matching: (number of pairs >= threshold, lowest IoU among the pairs made)."""
    pairs = sorted(((iou(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)), reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    matched, lowest = 0, 1.0
    for v, i, j in pairs:
        if v < threshold:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        matched += 1
        lowest = min(lowest, v)
    return matched, lowest


def compare_answers(a: Sequence[MTurkBox], b: Sequence[MTurkBox], threshold: float = AGREE_IOU) -> str | None:
    """None when two answers agree (same numbers, each box matched at IoU >= threshold), else why not."""
    na = sorted(x.number for x in a)
    nb = sorted(x.number for x in b)
    if set(na) != set(nb):
        return f"{{{', '.join(na) or 'nothing'}}} vs {{{', '.join(nb) or 'nothing'}}}"
    for n in sorted(set(na)):
        ba = [x.box for x in a if x.number == n]
        bb = [x.box for x in b if x.number == n]
        matched, _ = _match_boxes(ba, bb, threshold)
        if matched < max(len(ba), len(bb)):
            best = max((iou(x, y) for x in ba for y in bb), default=0.0)
            if len(ba) != len(bb):
                return f"{n}: {len(ba)} box(es) vs {len(bb)}"
            return f"{n}: boxes do not overlap enough (IoU {best:.2f} < {threshold:g})"
    return None


def _find_disagreements(batch: Batch) -> None:
    """Flag the answers of one image that disagree. An answer already rejected on MTurk disagrees with nobody: it
    is settled, not imported and confirms nothing (the real batch's 136 two-answer HITs are each one approved
    and one rejected answer: all 124 of its "disagreements" were with those)."""
    for image, group in batch.images.items():
        group = [a for a in group if a.status != STATUS_REJECTED]
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if a.worker_id == b.worker_id and a.worker_id:
                    continue
                why = compare_answers(a.boxes, b.boxes)
                if why is None:
                    continue
                msg = f"{a.worker_id} vs {b.worker_id}: {why}"
                batch.disagreements.setdefault(image, []).append(msg)
                for x, other in ((a, b), (b, a)):
                    x.flags.add(FLAG_DISAGREEMENT)
                    x.notes.append(f"disagrees with {other.worker_id} (line {other.line}): {why}")


def consensus(assignments: Sequence[Assignment], min_workers: int = 2, threshold: float = AGREE_IOU,
              rejected: Container[str] = ()) -> list[Bib]:
    """Bibs that at least ``min_workers`` different workers agree on (same digit number, boxes IoU >= threshold).

    The box is the mean of the agreeing boxes; ``confidence`` is the share of the image's
    workers who drew it. Non-digit labels never count, nor does a rejected answer (on MTurk, or
    here: its id in ``rejected``, the verdicts' rejections): it agrees with nobody, as it
    disagrees with nobody (:func:`_find_disagreements`) and confirms nothing (:func:`auto_review`).
    """
    assignments = [a for a in assignments if a.status != STATUS_REJECTED and a.assignment_id not in rejected]
    workers = {a.worker_id for a in assignments}
    clusters: list[tuple[str, list[tuple[str, tuple[float, float, float, float]]]]] = []
    for a in assignments:
        for b in a.boxes:
            if not b.is_digit:
                continue
            for number, members in clusters:
                if number == b.number and a.worker_id not in {w for w, _ in members} and iou(members[0][1], b.box) >= threshold:
                    members.append((a.worker_id, b.box))
                    break
            else:
                clusters.append((b.number, [(a.worker_id, b.box)]))
    out: list[Bib] = []
    for number, members in clusters:
        n = len({w for w, _ in members})
        if n >= min_workers:
            box = tuple(round(sum(m[1][k] for m in members) / len(members), 1) for k in range(4))
            out.append(Bib(number, box, round(n / max(1, len(workers)), 4)))  # type: ignore[arg-type]
    return out


# --------------------------------------------------------------------------- photos


@dataclass(frozen=True)
class PhotoRef:
    """Where a batch image was found: path on disk, and store ids when matched through a Store."""

    name: str
    path: Path
    relpath: str
    width: int | None = None
    height: int | None = None
    photo_id: int | None = None


@dataclass
class PhotoMatch:
    """Which batch images exist in the folder (``present``) and which do not (``missing``, sorted)."""

    folder: Path | None
    present: dict[str, PhotoRef]
    missing: list[str]
    errors: list[str] = field(default_factory=list)  # "name: message" for unreadable photos
    # name -> relpaths of the different photos it could be (same file name in several folders, which
    # its folders do not tell apart): not matched, left out of ``present`` and ``missing``
    ambiguous: dict[str, list[str]] = field(default_factory=dict)

    def ambiguous_lines(self) -> list[str]:
        """``"IMG_1.JPG: 2 photos have this file name (card1/IMG_1.JPG, card2/IMG_1.JPG); not imported"``."""
        return [f"{name}: {describe_candidates(rels)}; not imported (its answers are left out)" for name, rels in sorted(self.ambiguous.items())]


def _is_store(obj: Any) -> bool:
    return hasattr(obj, "photo_by_path") and hasattr(obj, "photos")


def image_path_from_url(url: str) -> str:
    """The path part of an image URL, %-escapes decoded, query and leading ``/`` dropped
    (``https://bucket/race/card2/IMG_1.JPG?X-Amz-…`` -> ``race/card2/IMG_1.JPG``)."""
    return unquote(urlsplit(url).path).lstrip("/") if url else ""


def _tell_shared_names_apart(assignments: Sequence[Assignment]) -> None:
    """Give the HITs of different photos that share a file name an image key each: their URL path.

    Two camera bodies' ``IMG_0001.JPG``, uploaded as ``…/card1/IMG_0001.JPG`` and ``…/card2/IMG_0001.JPG``,
    are two photos; keyed by the name alone their workers were compared with each other (a
    "disagreement" between two photos) and both answers went to one photo. The URL path's folders
    then also pick the photo (:func:`match_photos`)."""
    with_path: list[tuple[Assignment, str]] = []  # assignments whose URL path names their image's file
    paths: dict[str, set[str]] = {}
    for a in assignments:
        path = image_path_from_url(a.image_url)
        if path and name_key(path.rsplit("/", 1)[-1]) == name_key(a.image.rsplit("/", 1)[-1]):
            with_path.append((a, path))
            paths.setdefault(a.image, set()).add(path)
    for a, path in with_path:
        if len(paths[a.image]) > 1:
            a.image = path


def image_name_from_url(url: str) -> str:
    """The photo's file name in an image URL: last path part, %-escapes decoded, query dropped
    (``https://…/Zieleinlauf%20L%C3%A4ufer.jpg?X-Amz-…`` -> ``Zieleinlauf Läufer.jpg``)."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1]) if url else ""


def _folder_index(folder: Path) -> dict[str, list[str]]:
    """basename (``name_key``: case and Unicode normalisation ignored) -> relpaths (posix) of every file under folder, hidden folders skipped."""
    index: dict[str, list[str]] = {}
    for root, dirs, files in os.walk(folder, onerror=lambda e: None):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel_root = Path(root).relative_to(folder)
        for f in files:
            index.setdefault(name_key(f), []).append((rel_root / f).as_posix())
    return index


def _pick(name: str, index: dict[str, list[str]], same_content: Callable[[list[str]], bool],
          split: bool = False) -> tuple[str | None, list[str]]:
    """(relpath of the photo ``name`` means, or None; the candidates when they cannot be told apart).

    One file of that name: it. Several (two cards' ``IMG_0001.JPG``): the one whose folders end like
    ``name``'s (name_match.by_folders: an image URL's path carries them); else, when they are copies of one
    file (``same_content``), the shallowest; else none: a name alone does not say which photo it is.
    ``split``: the batch names other photos of this file name too (``…/card1/IMG_1.JPG``, ``…/card2/IMG_1.JPG``):
    only a file whose folders end like ``name``'s is it (card1's HITs never go to card2's photo, the only one here)."""
    cands = index.get(name_key(Path(name).name))
    if not cands:
        return None, []
    if split:
        hit = by_folders(name, cands)
        if hit is not None and shared_tail(name, hit) > 1:
            return hit, []
        return None, sorted(cands) if len(cands) > 1 else []
    if len(cands) == 1:
        return cands[0], []
    hit = by_folders(name, cands)
    if hit is not None:
        return hit, []
    if same_content(cands):
        return sorted(cands, key=lambda p: (p.count("/"), p))[0], []
    return None, sorted(cands)


def match_photos(batch: Batch, folder_or_store: Any, check_bounds: bool = True) -> PhotoMatch:
    """Find each batch image in a folder (or a Store's photos) and flag what depends on the photo.

    A name matches the same relative path, else a file with the same name anywhere under
    the folder (case- and Unicode-normalisation-insensitive). Several such files: the one whose folders
    end like the name's (an image URL's path), else the shallowest when they are copies of one file;
    otherwise the name is ``ambiguous`` and matched to none (never to a guess). Sets ``photo_flags`` on
    every assignment: ``missing-photo`` (no file of that name), ``ambiguous-photo`` (several, a note naming them),
    and ``outside-image`` when a box leaves the photo.
    """
    present: dict[str, PhotoRef] = {}
    errors: list[str] = []
    ambiguous: dict[str, list[str]] = {}
    names = sorted(batch.images)
    per_base: dict[str, int] = {}
    for name in names:
        base = name_key(name.rsplit("/", 1)[-1])
        per_base[base] = per_base.get(base, 0) + 1

    def split(name: str) -> bool:  # the batch tells several photos of this file name apart (by their paths)
        return per_base[name_key(name.rsplit("/", 1)[-1])] > 1

    if _is_store(folder_or_store):
        store = folder_or_store
        folder = Path(store.folder)
        by_base: dict[str, list[str]] = {}
        photos = {}
        for p in store.photos():
            photos[p.relpath] = p
            by_base.setdefault(name_key(Path(p.relpath).name), []).append(p.relpath)
        by_nfc = {nfc(rel): p for rel, p in photos.items()}  # macOS names may be NFD, the CSV's NFC
        def same_in_store(rels: list[str]) -> bool:
            return len({(photos[r].sha1, photos[r].size) for r in rels}) == 1 and photos[rels[0]].sha1 is not None

        for name in names:
            p = photos.get(name) or by_nfc.get(nfc(name))
            if p is None:
                rel, cands = _pick(name, by_base, same_in_store, split(name))
                p = photos.get(rel) if rel else None
                if cands:
                    ambiguous[name] = cands
            if p is not None:
                w, h = getattr(p, "width", None), getattr(p, "height", None)
                present[name] = PhotoRef(name, folder / p.relpath, p.relpath, w or None, h or None, p.id)
    else:
        folder = Path(folder_or_store)
        if not folder.is_dir():
            errors.append(f"{folder}: folder not found")
        else:
            index = _folder_index(folder)
            from bibtagger_gui.core.imageio import ImageError, probe_image

            def same_on_disk(rels: list[str]) -> bool:
                from bibtagger_gui.core.catalogue import content_hash

                try:
                    return len({((folder / r).stat().st_size, content_hash(folder / r)) for r in rels}) == 1
                except OSError:
                    return False

            for name in names:
                inside = not Path(name).is_absolute() and ".." not in Path(name).parts
                rel, cands = (name, []) if inside and (folder / name).is_file() else _pick(name, index, same_on_disk, split(name))
                if cands:
                    ambiguous[name] = cands
                if rel is None:
                    continue
                w = h = None
                if check_bounds:
                    try:
                        info = probe_image(folder / rel)
                        w, h = info.width, info.height
                    except ImageError as exc:
                        errors.append(f"{rel}: {exc.message}")
                present[name] = PhotoRef(name, folder / rel, rel, w, h)
    missing = [n for n in names if n not in present and n not in ambiguous]
    match = PhotoMatch(folder, present, missing, errors, ambiguous)
    apply_photo_flags(batch, match)
    return match


def apply_photo_flags(batch: Batch, match: PhotoMatch) -> None:
    """(Re)compute ``photo_flags`` (and ``photo_notes``) of every assignment from a :class:`PhotoMatch`."""
    for a in batch.assignments:
        a.photo_flags = set()
        a.photo_notes = []
        ref = match.present.get(a.image)
        if ref is None:
            cands = match.ambiguous.get(a.image)
            if cands:  # it is in the folder, but which of these files it is cannot be told
                a.photo_flags.add(FLAG_AMBIGUOUS_PHOTO)
                a.photo_notes.append(ambiguous_note(cands))
            else:
                a.photo_flags.add(FLAG_MISSING_PHOTO)
            continue
        if ref.width and ref.height:
            w, h, s = ref.width, ref.height, BOUNDS_SLACK
            if any(b.x1 < -s or b.y1 < -s or b.x2 > w + s or b.y2 > h + s for b in a.boxes):
                a.photo_flags.add(FLAG_OUTSIDE)


def ambiguous_note(relpaths: Sequence[str]) -> str:
    """What an assignment whose image name several files have says: the files, and what to do."""
    return (f"{describe_candidates(relpaths, limit=10)}: its answers are not imported; rename the files, "
            "or give the batch image URLs with their folders")


def outside_boxes(a: Assignment, ref: PhotoRef | None) -> list[MTurkBox]:
    """The boxes of an assignment that leave the photo (or have a negative position)."""
    w = ref.width if ref and ref.width else math.inf
    h = ref.height if ref and ref.height else math.inf
    s = BOUNDS_SLACK
    return [b for b in a.boxes if b.x1 < -s or b.y1 < -s or b.x2 > w + s or b.y2 > h + s]


# --------------------------------------------------------------------------- verdicts

APPROVE = "approve"
REJECT = "reject"
CORRECT = "correct"
ACTIONS = (APPROVE, REJECT, CORRECT)


class VerdictError(ValueError):
    """A verdict MTurk would not accept (no feedback for a rejection, already final, ...)."""


@dataclass(frozen=True)
class Verdict:
    """The requester's decision on one assignment.

    ``correct`` means the reviewer fixed the answer in the photo's bibs; it is uploaded as
    an approval (the worker did the job; the correction is ours).
    """

    assignment_id: str
    action: str
    feedback: str = ""
    updated: str = ""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise VerdictError(f"unknown verdict {self.action!r} (expected one of {', '.join(ACTIONS)})")
        if self.action == REJECT:
            fb = self.feedback.strip()
            if not fb or fb.lower() == "x":
                raise VerdictError("a rejection needs a reason for the worker (MTurk shows it to them)")
        if len(self.feedback) > MAX_FEEDBACK:
            raise VerdictError(f"feedback is {len(self.feedback)} characters; MTurk accepts at most {MAX_FEEDBACK}")

    @property
    def approves(self) -> bool:
        return self.action in (APPROVE, CORRECT)

    def stamped(self) -> "Verdict":
        """This verdict with its time set (now, when it has none): saved as it is, it reads back equal."""
        return self if self.updated else Verdict(self.assignment_id, self.action, self.feedback, _now())


def verdicts_path(folder_or_store: Any) -> Path:
    """Where the verdicts of a photo folder live: ``mturk.db`` beside the store's ``project.db``.

    That is ``FOLDER/.bibtagger/mturk.db``, or the store's per-user fallback for read-only
    folders (see :func:`bibtagger_gui.core.store.db_path_for`).
    """
    if _is_store(folder_or_store) and getattr(folder_or_store, "db_path", None):
        return Path(folder_or_store.db_path).parent / "mturk.db"
    from bibtagger_gui.core.store import db_path_for

    return db_path_for(Path(folder_or_store)).parent / "mturk.db"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class VerdictStore:
    """Verdicts and the import log, one SQLite file; every change is its own committed transaction."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS verdicts (
                assignment_id TEXT PRIMARY KEY, action TEXT NOT NULL, feedback TEXT NOT NULL DEFAULT '',
                hit_id TEXT, worker_id TEXT, image TEXT, updated TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS imported (
                assignment_id TEXT NOT NULL, box_index INTEGER NOT NULL, bib_id INTEGER,
                PRIMARY KEY (assignment_id, box_index));
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
            """
        )

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One committed write transaction."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @classmethod
    def open(cls, folder_or_store: Any) -> "VerdictStore":
        return cls(verdicts_path(folder_or_store))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "VerdictStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set(self, verdict: Verdict, assignment: Assignment | None = None) -> Verdict:
        """Save a verdict now. Refuses assignments MTurk has already approved or rejected."""
        if assignment is not None and assignment.final:
            raise VerdictError(f"assignment {assignment.assignment_id} is already {assignment.status} on MTurk; it cannot change")
        v = Verdict(verdict.assignment_id, verdict.action, verdict.feedback, verdict.updated or _now())
        a = assignment
        with self._tx():
            self._db.execute(
                "INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?)",
                (v.assignment_id, v.action, v.feedback, a.hit_id if a else None, a.worker_id if a else None, a.image if a else None, v.updated),
            )
        return v

    def clear(self, assignment_id: str) -> None:
        with self._tx():
            self._db.execute("DELETE FROM verdicts WHERE assignment_id=?", (assignment_id,))

    def get(self, assignment_id: str) -> Verdict | None:
        r = self._db.execute("SELECT assignment_id, action, feedback, updated FROM verdicts WHERE assignment_id=?", (assignment_id,)).fetchone()
        return Verdict(*r) if r else None

    def all(self) -> dict[str, Verdict]:
        return {r[0]: Verdict(*r) for r in self._db.execute("SELECT assignment_id, action, feedback, updated FROM verdicts")}

    def record_imports(self, entries: Iterable[tuple[str, int, int | None]]) -> None:
        """Remember (assignment_id, box_index, bib_id) as imported into the store."""
        with self._tx():
            self._db.executemany("INSERT OR REPLACE INTO imported VALUES (?,?,?)", list(entries))

    def was_imported(self, assignment_id: str, box_index: int) -> bool:
        r = self._db.execute("SELECT 1 FROM imported WHERE assignment_id=? AND box_index=?", (assignment_id, box_index)).fetchone()
        return r is not None

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        r = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return r[0] if r else default

    def set_meta(self, key: str, value: str) -> None:
        with self._tx():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, value))


# --------------------------------------------------------------------------- pending verdict note

#: Project-store meta key of a verdict whose effect on the photo is committed but whose write to
#: ``mturk.db`` may not be (docs/mturk.md#a-crash-between-the-two-databases).
PENDING_META = "mturk_pending_verdict"


def note_pending_verdict(store: Any, assignment_id: str, verdict: Verdict | None) -> None:
    """Note, in the project store, the verdict (None: none) about to be written to ``mturk.db``.

    Called inside the transaction that applies the verdict's effect on the photo's bibs, so the note
    commits with it; :func:`clear_pending_verdict` once ``mturk.db`` holds the verdict."""
    v = None if verdict is None else {"action": verdict.action, "feedback": verdict.feedback, "updated": verdict.updated}
    store.set_meta(PENDING_META, json.dumps({"assignment_id": assignment_id, "verdict": v}))


def clear_pending_verdict(store: Any) -> None:
    store.set_meta(PENDING_META, None)


def finish_pending_verdict(store: Any, verdicts: VerdictStore, batch: Batch | None = None) -> tuple[str, Verdict | None] | None:
    """Complete a verdict write a crash interrupted: the photo's part is committed (the note says so),
    so the noted verdict is written to ``verdicts`` (again, when it was: same verdict, same time) and the
    note removed. No bib is touched: nothing is applied twice. Returns (assignment id, verdict) or None."""
    text = store.get_meta(PENDING_META)
    if not text:
        return None
    try:
        data = json.loads(text)
        aid = str(data["assignment_id"])
        v = data["verdict"]
        verdict = None if v is None else Verdict(aid, v["action"], v.get("feedback", ""), v.get("updated", ""))
    except (ValueError, KeyError, TypeError, VerdictError):  # not ours to read: nothing to finish
        clear_pending_verdict(store)
        return None
    a = batch.assignment(aid) if batch is not None else None
    if verdict is None:
        verdicts.clear(aid)
    else:
        verdicts.set(verdict, a if a is not None and a.pending else None)  # hit, worker, image when known
    clear_pending_verdict(store)
    return aid, verdict


# --------------------------------------------------------------------------- export


@dataclass
class ExportReport:
    approved: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    untouched: int = 0  # rows written exactly as read
    ignored_final: list[str] = field(default_factory=list)  # verdicts on already Approved/Rejected assignments
    unknown: list[str] = field(default_factory=list)  # verdicts for assignments not in this batch
    encoding: str = ""  # the file's encoding as written
    encoding_note: str = ""  # why it is not the batch's own encoding ("" when it is)


def export_batch(batch: Batch, verdicts: Mapping[str, Verdict] | VerdictStore, out_csv: str | os.PathLike) -> ExportReport:
    """Write the batch back for MTurk's "Upload CSV" with Approve / Reject filled from ``verdicts``.

    Rules: approve (and correct) -> Approve="x", Reject=""; reject -> Approve="", Reject=feedback.
    Only ``Submitted`` assignments change; already Approved/Rejected ones, rows without a
    verdict and malformed rows are written field-for-field as read. Every field is quoted
    (MTurk's own style), line endings, encoding and BOM follow the input, except that feedback the
    input's encoding cannot hold (a cp1252 file re-saved by Excel, "≠" typed in a reason) makes the
    file UTF-8 with a BOM rather than lose characters (``ExportReport.encoding_note`` says so).
    Written atomically.
    """
    from bibtagger_gui.core.imageio import photo_target_problem
    from bibtagger_gui.core.store import out_folder_problem

    why = photo_target_problem(out_csv) or out_folder_problem(out_csv)
    if why:  # never a photo replaced by the upload file, nor folders made for a typo
        raise OSError(why)
    vmap = verdicts.all() if isinstance(verdicts, VerdictStore) else dict(verdicts)
    header = list(batch.header)
    names = [h.strip() for h in header]
    for c in (COL_APPROVE, COL_REJECT):
        if c not in names:
            header.append(c)
            names.append(c)
    i_app, i_rej = names.index(COL_APPROVE), names.index(COL_REJECT)
    report = ExportReport(unknown=sorted(set(vmap) - set(batch.by_id)))
    by_row = {a.row_index: a for a in batch.assignments}
    out_rows: list[list[str]] = [header]
    for idx, fields in enumerate(batch.rows[1:], 1):
        a = by_row.get(idx)
        v = vmap.get(a.assignment_id) if a else None
        if a is None or v is None:
            out_rows.append(fields)
            report.untouched += 1
            continue
        if not a.pending:
            out_rows.append(fields)
            report.untouched += 1
            report.ignored_final.append(a.assignment_id)
            continue
        row = list(fields) + [""] * (len(header) - len(fields))
        if v.approves:
            row[i_app], row[i_rej] = "x", ""
            report.approved.append(a.assignment_id)
        else:
            row[i_app], row[i_rej] = "", v.feedback.strip()
            report.rejected.append(a.assignment_id)
        out_rows.append(row)
    out = Path(out_csv)
    buf = io.StringIO(newline="")
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator=batch.newline).writerows(out_rows)
    text = buf.getvalue()
    try:
        data = (b"\xef\xbb\xbf" if batch.bom else b"") + text.encode(batch.encoding)
        report.encoding = batch.encoding
    except UnicodeEncodeError as exc:  # feedback typed here that the batch's encoding (cp1252, latin-1) cannot hold
        data = b"\xef\xbb\xbf" + text.encode("utf-8")
        report.encoding = "utf-8"
        report.encoding_note = (f"written as UTF-8 (with a byte order mark), not {batch.encoding} like the batch file, "
                                f"because the feedback holds {text[exc.start:exc.end]!r}, which {batch.encoding} cannot store")
    atomic_write_bytes(out, data)
    return report


# --------------------------------------------------------------------------- store


@dataclass
class ImportReport:
    added: int = 0
    already_there: int = 0
    skipped_non_digit: int = 0
    skipped_rejected: int = 0  # boxes of assignments rejected on MTurk or by a verdict
    missing_photos: list[str] = field(default_factory=list)
    reviewed_photos: list[str] = field(default_factory=list)  # reviewed photos that got new boxes (docs/mturk.md)

    def reviewed_note(self) -> str:
        """The line saying that boxes went to photos already reviewed ("" for none)."""
        if not self.reviewed_photos:
            return ""
        return (f"{len(self.reviewed_photos)} reviewed photo(s) got new worker boxes: a fine-tune leaves them out "
                "until each is looked at and accepted again (Enter)")


def _same_box(a: Sequence[float] | None, b: Sequence[float] | None, tol: float = 0.5) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return all(abs(float(x) - float(y)) <= tol for x, y in zip(a, b))


def _add_bib(store: Any, photo_id: int, number: str, box: Sequence[float], source: str, extra: dict) -> Any:
    """store.add_bib, passing ``extra`` only when the store supports it."""
    try:
        params = inspect.signature(store.add_bib).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs: dict[str, Any] = {"source": source}
    if "extra" in params:
        kwargs["extra"] = extra
    return store.add_bib(photo_id, number, tuple(float(v) for v in box), **kwargs)


def _extra(a: Assignment, box_index: int, b: MTurkBox) -> dict:
    return {"worker_id": a.worker_id, "assignment_id": a.assignment_id, "hit_id": a.hit_id, "box_index": box_index, "label": b.label}


def _is_import_of(row: Any, a: Assignment, box_index: int, b: MTurkBox) -> bool:
    """Is an existing mturk bib this worker's box? By its ``extra`` ids when it has them, else by number and box."""
    extra = getattr(row, "extra", None)
    if isinstance(extra, dict) and "assignment_id" in extra:
        return extra.get("assignment_id") == a.assignment_id and extra.get("box_index") == box_index
    return row.number == b.number and _same_box(row.box, b.box)


def import_into_store(batch: Batch, store: Any, verdicts: VerdictStore | None = None, match: PhotoMatch | None = None) -> ImportReport:
    """Add the workers' boxes as ``source="mturk"`` bibs of the photos the store has.

    Idempotent: a box already imported (import log in ``verdicts``) or already present as an
    mturk bib (same assignment and box index in its ``extra``; same number and box for bibs
    without ``extra``) is not added again. Boxes with non-digit labels
    and answers rejected on MTurk or by a verdict are left out (use *correct* to bring those in).
    """
    match = match or match_photos(batch, store)
    report = ImportReport(missing_photos=list(match.missing))
    vmap = verdicts.all() if verdicts else {}
    existing: dict[int, list[Any]] = {}
    log: list[tuple[str, int, int | None]] = []
    transaction = store.transaction() if hasattr(store, "transaction") else contextlib.nullcontext()
    with transaction:  # one commit for the whole import: all of it or nothing
        for a in batch.assignments:
            ref = match.present.get(a.image)
            if ref is None or ref.photo_id is None:
                continue
            v = vmap.get(a.assignment_id)
            if a.status == STATUS_REJECTED or (v is not None and v.action == REJECT):
                report.skipped_rejected += len(a.boxes)
                continue
            if ref.photo_id not in existing:
                existing[ref.photo_id] = [b for b in store.bibs(ref.photo_id) if b.source == "mturk"]
            for i, b in enumerate(a.boxes):
                if not b.is_digit:
                    report.skipped_non_digit += 1
                    continue
                if verdicts is not None and verdicts.was_imported(a.assignment_id, i):
                    report.already_there += 1
                    continue
                if any(_is_import_of(r, a, i, b) for r in existing[ref.photo_id]):
                    report.already_there += 1
                    log.append((a.assignment_id, i, None))
                    continue
                row = _add_bib(store, ref.photo_id, b.number, b.box, "mturk", _extra(a, i, b))
                existing[ref.photo_id].append(row)
                report.added += 1
                if getattr(store.photo(ref.photo_id), "reviewed", False) and ref.relpath not in report.reviewed_photos:
                    report.reviewed_photos.append(ref.relpath)
                log.append((a.assignment_id, i, getattr(row, "id", None)))
    # The log is written after the store committed; were it lost, the box comparison above
    # still keeps a re-import from duplicating bibs.
    if verdicts is not None and log:
        verdicts.record_imports(log)
    return report


def sync_verdict_bibs(assignment: Assignment, store: Any, photo_id: int, action: str | None) -> tuple[int, int]:
    """Keep a photo's mturk bibs in line with the verdict on one answer; returns (removed, added).

    A rejected answer's boxes leave the photo (its bibs still ``source="mturk"``; ones the reviewer
    already edited into human bibs stay), as :func:`import_into_store` leaves them out on import.
    Any other verdict, or none (a rejection undone), brings back its digit boxes that are missing,
    unless MTurk itself rejected the answer.
    """
    mine = [
        r for r in store.bibs(photo_id)
        if r.source == "mturk" and any(_is_import_of(r, assignment, i, b) for i, b in enumerate(assignment.boxes))
    ]  # fmt: skip
    if action == REJECT:
        with store.transaction():
            for r in mine:
                store.delete_bib(r.id)
        return len(mine), 0
    if assignment.status == STATUS_REJECTED:
        return 0, 0
    added = 0
    with store.transaction():
        for i, b in enumerate(assignment.boxes):
            if b.is_digit and not any(_is_import_of(r, assignment, i, b) for r in mine):
                _add_bib(store, photo_id, b.number, b.box, "mturk", _extra(assignment, i, b))
                added += 1
    return 0, added


def kept_after_reject(assignment: Assignment, store: Any, photo_id: int) -> list[Any]:
    """This answer's boxes that a rejection leaves on an accepted photo: its bibs that are no longer ``mturk``
    (Accept made them human, keeping the worker's ``extra``), whether they still read as the worker typed (a
    fine-tune learns them as the worker's: core/training_labels.py) or the reviewer has retyped them since (the
    box is still the worker's). The reviewer's Accept judged the photo and a rejection judges the worker (the
    payment), so they stay; :func:`kept_note` tells the user (docs/mturk.md). [] when the photo is not accepted
    (reviewed): there only the boxes the reviewer edited stay, by the rule of :func:`sync_verdict_bibs`."""
    photo = store.photo(photo_id) if hasattr(store, "photo") else None
    if photo is not None and not getattr(photo, "reviewed", True):
        return []
    out = []
    for r in store.bibs(photo_id):
        extra = getattr(r, "extra", None)
        if r.source != "mturk" and isinstance(extra, dict) and extra.get("assignment_id") == assignment.assignment_id:
            out.append(r)
    return out


def kept_note(photo: str, kept: Sequence[Any]) -> str:
    """The line for a rejection whose boxes stay (:func:`kept_after_reject`); "" for none. A bib the reviewer has
    retyped is named by its number now and the worker's label ("17 (you retyped the worker's 71)")."""
    if not kept:
        return ""
    names = []
    for r in kept:
        label = str((getattr(r, "extra", None) or {}).get("label", "")).strip()
        names.append(r.number if label == r.number else f"{r.number} (you retyped the worker's {label or 'empty label'})")
    return (f"photo {photo} was already accepted with this worker's box(es) {', '.join(names)}; "
            "they stay (a rejection judges the worker, Accept judged the photo) — open the photo to fix them")


def correct_into_store(assignment: Assignment, store: Any, photo_id: int) -> list[Any]:
    """Copy a worker's boxes into the photo's bibs as human bibs (to be edited in the main window).

    Every box comes in, non-digit labels too (as typed, "?" when empty) so the reviewer can
    fix them; a box already there as a human bib with the same number is not duplicated.
    """
    transaction = store.transaction() if hasattr(store, "transaction") else contextlib.nullcontext()
    with transaction:  # all the boxes or none
        have = [b for b in store.bibs(photo_id) if b.source == "human"]
        added = []
        for i, b in enumerate(assignment.boxes):
            number = b.number or "?"
            if any(r.number == number and _same_box(r.box, b.box) for r in have):
                continue
            row = _add_bib(store, photo_id, number, b.box, "human", _extra(assignment, i, b))
            have.append(row)
            added.append(row)
    return added


def remove_corrections(assignment: Assignment, store: Any, photo_id: int) -> list[Any]:
    """Take back a *correct*: remove the human bibs :func:`correct_into_store` copied from this answer
    that are still as copied (same number and box); ones the reviewer edited since stay. Returns them."""
    copies = []
    for r in store.bibs(photo_id):
        extra = r.extra if isinstance(r.extra, dict) else {}
        i = extra.get("box_index")
        if r.source != "human" or extra.get("assignment_id") != assignment.assignment_id or not isinstance(i, int):
            continue
        if 0 <= i < len(assignment.boxes):
            b = assignment.boxes[i]
            if r.number == (b.number or "?") and _same_box(r.box, b.box):
                copies.append(r)
    with store.transaction():
        for r in copies:
            store.delete_bib(r.id, reject=False)  # taking back a copy rejects no number
    return copies


# --------------------------------------------------------------------------- automatic review


@dataclass
class AutoReview:
    approved: list[str] = field(default_factory=list)
    held: list[tuple[Assignment, str]] = field(default_factory=list)  # (assignment, why it needs a person)


_BLOCKING = (FLAG_NON_DIGIT, FLAG_EMPTY, FLAG_BAD_ANSWER, FLAG_OUTSIDE)


def _store_boxes(store: Any, ref: PhotoRef | None) -> list[MTurkBox]:
    """Human bibs of the photo if any, else the model's, as boxes to compare against."""
    if store is None or ref is None or ref.photo_id is None:
        return []
    rows = store.bibs(ref.photo_id)
    for source in ("human", "model"):
        picked = [r for r in rows if r.source == source]
        if picked:
            return [MTurkBox(*(r.box if r.box is not None else (0, 0, 0, 0)), label=r.number) for r in picked if r.box is not None]
    return []


def auto_review(batch: Batch, match: PhotoMatch, verdicts: VerdictStore, store: Any = None, apply: bool = True) -> AutoReview:
    """Approve pending assignments that clearly did the job; hold the rest for a person.

    Approved when the assignment is Submitted with no verdict yet, has at least one box, only
    digit labels, no malformed or outside box, and its answer agrees exactly (same numbers,
    boxes IoU >= 0.5) with another worker on the same photo whose answer is not rejected (on
    MTurk or by a verdict: a rejected answer confirms nothing) or with the photo's current
    human bibs (else model bibs) in the store.
    """
    result = AutoReview()
    decided = verdicts.all()

    def rejected(o: Assignment) -> bool:
        v = decided.get(o.assignment_id)
        return o.status == STATUS_REJECTED or (v is not None and v.action == REJECT)

    for a in batch.assignments:
        if not a.pending or a.assignment_id in decided:
            continue
        blocking = [FLAG_LABELS[f] for f in _BLOCKING if f in a.all_flags]
        if blocking:
            result.held.append((a, ", ".join(blocking)))
            continue
        peers = [o for o in batch.images.get(a.image, []) if o is not a and o.worker_id != a.worker_id and not rejected(o)]
        agree = any(compare_answers(a.boxes, o.boxes) is None for o in peers)
        if not agree:
            ref_boxes = _store_boxes(store, match.present.get(a.image))
            agree = bool(ref_boxes) and compare_answers(a.boxes, ref_boxes) is None
        if not agree:
            why = "no other worker or bib in the store confirms it" if not peers else "workers disagree"
            result.held.append((a, why))
            continue
        if apply:
            verdicts.set(Verdict(a.assignment_id, APPROVE), a)
        result.approved.append(a.assignment_id)
    return result


def iter_flagged(batch: Batch) -> Iterable[Assignment]:
    """Assignments with at least one flag, in file order."""
    return (a for a in batch.assignments if a.all_flags)
