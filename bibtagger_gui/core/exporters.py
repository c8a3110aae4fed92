"""Exports of a project store: csv, bibcsv, xlsx, json, coco, crops, bibfolders.

* ``csv``: photo -> bibs, one row per bib (image,number,x1,y1,x2,y2,confidence,source,reviewed,name);
  a photo without bibs has one row with an empty number, so every photo is listed;
* ``bibcsv``: bib -> photos, one row per number (number,count,images with ";" between,name);
  spellings of one bib ("891", "0891": same ``number_key``) share a row (see :func:`bib_spellings`);
* ``xlsx``: an Excel workbook (core/sheet_xlsx.py) with the ``csv`` rows as sheet "Photos" and the
  ``bibcsv`` rows as sheet "Bibs": typed cells, so "0891" stays text in Excel and no locale's list
  separator matters (docs/exports.md#excel-workbook);
* ``json``: the bib annotation JSON (exchange format); bibs carry ``name`` when the start list names them,
  entries their ``"handout"`` states (core/handout.py: the base of the import's three-way merge);
* ``coco``: COCO detection JSON, one category "bib", the number (and ``name``) in ``attributes``;

``name`` is the runner's name from the project's start list (``core.startlist.names_for``);
the CSV column is always there and empty for numbers without a name (or without a start list).
* ``crops``: one image per boxed bib, cut from the full-resolution oriented photo, plus
  ``labels.csv`` (file,number,...) for reader training;
* ``bibfolders``: one folder per number (spellings merged like ``bibcsv``) with symlinks (or copies) of its photos; a re-export
  into the same folder removes what an earlier one made (its manifest) that is no longer current, never the user's links or files.

``csv`` and ``bibcsv`` are for spreadsheets (core/sheet_csv.py, docs/exports.md#csv-files-in-spreadsheets):
a file gets a UTF-8 BOM (the text returned for stdout has none) and text cells that a
spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, TAB, CR) get a leading ``'``
(``sheet_csv.unguard`` takes it off; the start-list reader does). ``labels.csv`` is machine-read:
exact values, no BOM.

Photos are never modified.
"""

from __future__ import annotations

import errno
import filecmp
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from bibtagger_gui.core import portable, sheet_xlsx
from bibtagger_gui.core.annotations import atomic_write_bytes, atomic_write_text
from bibtagger_gui.core.bib import number_key, number_order
from bibtagger_gui.core.handout import add_handout_states
from bibtagger_gui.core.imageio import ImageError, load_image, photo_target_problem
from bibtagger_gui.core.sheet_csv import BOM, csv_text, guard
from bibtagger_gui.core.startlist import load_from_store, names_for
from bibtagger_gui.core.store import BibRow, Photo, Store, out_folder_problem

FORMATS = ("csv", "bibcsv", "xlsx", "json", "coco", "crops", "bibfolders")
FILE_FORMATS = ("csv", "bibcsv", "json", "coco")  # text files (stdout without --out)
BINARY_FORMATS = ("xlsx",)  # one binary file: needs an --out
SPREADSHEET_FORMATS = ("csv", "bibcsv")  # a file of these starts with a UTF-8 BOM, for Excel
BIB_CSV_HEADER = ["image", "number", "x1", "y1", "x2", "y2", "confidence"]


class ExportError(ValueError):
    """An export that must not run (the message says why)."""


@dataclass
class ExportReport:
    photos: int = 0
    bibs: int = 0
    written: int = 0  # files/links written (crops, bibfolders)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (relpath, message)
    notes: list[str] = field(default_factory=list)  # how the export went differently (bibfolders: copies, not links)
    cancelled: bool = False  # stopped early by ``cancel`` (what was written so far stays)


Progress = Callable[[int, int], object] | None  # progress(done_photos, total_photos)
Cancel = Callable[[], bool] | None


def _tick(progress: Progress, cancel: Cancel, done: int, total: int, rep: ExportReport) -> bool:
    """Report progress; True when the export should stop."""
    if progress is not None:
        progress(done, total)
    if cancel is not None and cancel():
        rep.cancelled = True
    return rep.cancelled


PhotoFilter = Callable[[Photo], bool] | None  # ``only``: which photos an export takes (core/photo_selection.py)


def _selection(store: Store, reviewed_only: bool, only: PhotoFilter = None) -> tuple[list[Photo], dict[int, list[BibRow]]]:
    """The photos of an export and their bibs: those of the picture each file holds (``Store.bibs_by_picture``; bibs
    kept from an earlier picture under a photo's name are left out until it is reviewed, as keywords leave them)."""
    photos = store.photos("reviewed" if reviewed_only else None)
    if only is not None:
        photos = [p for p in photos if only(p)]
    return photos, store.bibs_by_picture()[0]


def _float(v: float | None) -> float | None:
    return None if v is None else float(v)


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:g}"


def bib_rows_csv(entries: list[dict], failed: dict[str, str] | None = None) -> str:
    """CSV text (image,number,x1,y1,x2,y2,confidence,error) from exchange-format entries.

    ``failed`` (image -> message) photos get one row with only the error, after the others;
    their entries are left out, so "recognition failed" never reads as "no bib found".
    """
    failed = failed or {}
    rows: list[list[str]] = [[*BIB_CSV_HEADER, "error"]]
    for e in entries:
        if e["image"] in failed:
            continue
        image = guard(e["image"])
        if not e["bibs"]:
            rows.append([image, "", "", "", "", "", "", ""])
        for b in e["bibs"]:
            box = b.get("box") or [None] * 4
            rows.append([image, guard(b["number"]), *(_fmt(v) for v in box), _fmt(b.get("confidence")), ""])
    for image, message in failed.items():
        rows.append([guard(image), "", "", "", "", "", "", guard(message)])
    return csv_text(rows)


PHOTOS_HEADER = [*BIB_CSV_HEADER, "source", "reviewed", "name"]
BIBS_HEADER = ["number", "count", "images", "name"]
PHOTOS_TEXT = frozenset({0, 1, 7, 9})  # image, number, source, name; the others are numbers (empty: none)
BIBS_TEXT = frozenset({0, 2, 3})  # number, images, name


def photo_rows(store: Store, reviewed_only: bool = False, only: PhotoFilter = None) -> tuple[list[list[object]], ExportReport]:
    """The rows of ``csv`` (and the xlsx "Photos" sheet) under :data:`PHOTOS_HEADER`, values as stored:
    text as ``str``, box and confidence as ``float`` (None: none), reviewed as 0/1."""
    photos, bibs = _selection(store, reviewed_only, only)
    out: list[list[object]] = []
    rep = ExportReport(photos=len(photos))
    names = names_for(store)
    for p in photos:
        rows = bibs.get(p.id, [])
        if not rows:
            out.append([p.relpath, "", None, None, None, None, None, "", int(p.reviewed), ""])
        for b in rows:
            rep.bibs += 1
            out.append([p.relpath, b.number, *(_float(v) for v in (*(b.box or (None,) * 4), b.confidence)), b.source, int(p.reviewed),
                        names.get(number_key(b.number), "")])  # fmt: skip
    return out, rep


def _csv_rows(header: list[str], rows: list[list[object]], text: frozenset[int]) -> str:
    """CSV text of typed rows: text guarded against formulas, floats as ``{:g}``, None empty."""
    out: list[list[object]] = [header]
    for row in rows:
        out.append([guard(v) if i in text else _fmt(v) if isinstance(v, float) or v is None else v for i, v in enumerate(row)])  # type: ignore[arg-type]
    return csv_text(out)


def photos_csv(store: Store, reviewed_only: bool = False, only: PhotoFilter = None) -> tuple[str, ExportReport]:
    rows, rep = photo_rows(store, reviewed_only, only)
    return _csv_rows(PHOTOS_HEADER, rows, PHOTOS_TEXT), rep


def bib_spellings(store: Store, numbers: Iterable[str]) -> dict[str, str]:
    """``number_key`` -> the spelling that names one bib's row or folder in ``bibcsv``/``bibfolders``.

    "891" and "0891" are one runner (docs/bib-numbers.md), so their photos are grouped once:
    under the start list's spelling when it lists the bib, else under the spelling most of
    ``numbers`` use (a tie goes to the longer one, i.e. the one with the printed zero, then the
    smaller). The store keeps every bib as read; only the grouping changes.
    """
    counts = Counter(numbers)
    sl = load_from_store(store)
    chosen: dict[str, str] = {}
    for number in sorted(counts, key=lambda n: (-counts[n], -len(n), n)):
        chosen.setdefault(number_key(number), number)
    if sl is not None:
        for key in chosen:
            listed = sl.listed(key)
            if listed is not None:
                chosen[key] = listed
    return chosen


def _bib_groups(store: Store, photos: list[Photo], bibs: dict[int, list[BibRow]]) -> dict[int, list[str]]:
    """Photo id -> the names of its bibs' groups (one per bib, spellings merged, order kept)."""
    spelling = bib_spellings(store, (b.number for p in photos for b in bibs.get(p.id, [])))
    return {p.id: list(dict.fromkeys(spelling[number_key(b.number)] for b in bibs.get(p.id, []))) for p in photos}


def bib_number_rows(store: Store, reviewed_only: bool = False, only: PhotoFilter = None) -> tuple[list[list[object]], ExportReport]:
    """The rows of ``bibcsv`` (and the xlsx "Bibs" sheet) under :data:`BIBS_HEADER`, in number order;
    ``images`` is the list of relpaths here (the CSV joins it with ";")."""
    photos, bibs = _selection(store, reviewed_only, only)
    groups = _bib_groups(store, photos, bibs)
    by_number: dict[str, list[str]] = {}
    rep = ExportReport(photos=len(photos))
    for p in photos:
        for number in groups[p.id]:
            by_number.setdefault(number, []).append(p.relpath)
            rep.bibs += 1
    names = names_for(store)
    rows: list[list[object]] = []
    for number in number_order(by_number):
        rows.append([number, len(by_number[number]), by_number[number], names.get(number_key(number), "")])
    return rows, rep


def numbers_csv(store: Store, reviewed_only: bool = False, only: PhotoFilter = None) -> tuple[str, ExportReport]:
    rows, rep = bib_number_rows(store, reviewed_only, only)
    return _csv_rows(BIBS_HEADER, [[n, c, ";".join(images), name] for n, c, images, name in rows], BIBS_TEXT), rep  # type: ignore[arg-type]


def _split_images(images: list[str], limit: int) -> list[list[str]]:
    """``images`` in consecutive runs whose ";"-joined text fits ``limit`` characters (UTF-16 units)."""
    parts: list[list[str]] = [[]]
    size = 0
    for image in images:
        n = sheet_xlsx.utf16_len(image)
        if parts[-1] and size + 1 + n > limit:
            parts.append([])
            size = 0
        size += n + (1 if len(parts[-1]) else 0)
        parts[-1].append(image)
    return parts


def workbook(store: Store, reviewed_only: bool = False, only: PhotoFilter = None) -> tuple[bytes, ExportReport]:
    """The ``xlsx`` export: sheet "Photos" holds the ``csv`` rows, "Bibs" the ``bibcsv`` rows, same
    columns and values (numbers as the CSV writes them), text cells unguarded (docs/exports.md#excel-workbook).

    Excel's limits: a bib whose ``images`` do not fit one cell gets continuation rows (same number,
    count and name; the images go on), a sheet past Excel's row limit goes on in "Photos 2", …; a
    note says so. Another text too long for a cell is an :class:`ExportError`."""
    with store.reading():  # both sheets from one state of the project, whatever the app saves meanwhile
        photo, rep = photo_rows(store, reviewed_only, only)
        bib, _ = bib_number_rows(store, reviewed_only, only)
    rounded = [[float(_fmt(v)) if isinstance(v, float) else v for v in row] for row in photo]  # the CSV's {:g} values
    bib_rows: list[list[object]] = []
    for number, count, images, name in bib:
        parts = _split_images(images, sheet_xlsx.MAX_CELL_CHARS)  # type: ignore[arg-type]
        if len(parts) > 1:
            rep.notes.append(f"bib {number}: its {count} photos' names do not fit one Excel cell "
                             f"({sheet_xlsx.MAX_CELL_CHARS:,} characters); they go on over {len(parts)} rows of the Bibs sheet")  # fmt: skip
        bib_rows += [[number, count, ";".join(part), name] for part in parts]
    sheets = [*sheet_xlsx.split_rows(sheet_xlsx.Sheet("Photos", PHOTOS_HEADER, rounded, PHOTOS_TEXT)),
              *sheet_xlsx.split_rows(sheet_xlsx.Sheet("Bibs", BIBS_HEADER, bib_rows, BIBS_TEXT))]  # fmt: skip
    for base in ("Photos", "Bibs"):
        more = [s.name for s in sheets if s.name.startswith(base + " ")]
        if more:
            rep.notes.append(f"the {base} sheet has more rows than Excel's {sheet_xlsx.MAX_ROWS:,}: it goes on in "
                             f"{', '.join(more)}")  # fmt: skip
    try:
        data, notes = sheet_xlsx.workbook_bytes(sheets)
    except sheet_xlsx.CellTooLong as exc:
        raise ExportError(f"{exc}; nothing written (shorten that text, e.g. in the start list, or export csv)") from None
    rep.notes += notes
    return data, rep


def annotations_json(store: Store, reviewed_only: bool = False, only: PhotoFilter = None) -> tuple[str, ExportReport]:
    entries = store.to_annotations(reviewed_only=reviewed_only, only=only)
    add_handout_states(store, entries)  # the base of the three-way merge when the file comes back (docs/volunteers.md)
    names = names_for(store)
    if names:
        for e in entries:
            for b in e["bibs"]:
                name = names.get(number_key(b["number"]))
                if name:
                    b["name"] = name
    rep = ExportReport(photos=len(entries), bibs=sum(len(e["bibs"]) for e in entries))
    return json_lines(entries), rep


def json_lines(entries: list[dict]) -> str:
    """A JSON list with one entry a line. ``json.dumps(indent=...)`` runs Python's pure-Python encoder
    (the C one only writes without indent): a 10,000-photo export with its hand-out states took ~0.7 s to
    encode and 7 MB; a line per photo is the C encoder's speed, half the size, and still reads (and diffs) per photo."""
    if not entries:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in entries) + "\n]\n"


def coco_json(store: Store, reviewed_only: bool = False, only: PhotoFilter = None) -> tuple[str, ExportReport]:
    photos, bibs = _selection(store, reviewed_only, only)
    images, anns = [], []
    rep = ExportReport()
    names = names_for(store)
    for p in photos:
        if p.width is None:
            continue
        images.append({"id": p.id, "file_name": p.relpath, "width": p.width, "height": p.height})
        rep.photos += 1
        for b in bibs.get(p.id, []):
            if b.box is None:
                continue
            x1, y1, x2, y2 = b.box
            attrs: dict = {"number": b.number, "source": b.source}
            if b.confidence is not None:
                attrs["confidence"] = round(b.confidence, 4)
            if names.get(number_key(b.number)):
                attrs["name"] = names[number_key(b.number)]
            anns.append(
                {
                    "id": b.id,
                    "image_id": p.id,
                    "category_id": 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                    "attributes": attrs,
                }
            )
            rep.bibs += 1
    doc = {
        "info": {"description": f"bibtagger export of {store.folder.name}"},
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "bib", "supercategory": "bib"}],
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n", rep


def safe_name(text: str, limit: int = portable.MAX_BUILT_NAME) -> str:
    """A file/folder name made of letters, digits, '-' and '_' only, valid on Windows too (a device
    name such as ``CON`` or ``COM1`` gets a ``_``) and at most ``limit`` characters (docs/portability.md)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "_"
    return portable.shorten_name(portable.windows_safe_name(name), limit)


def export_crops(store: Store, out_dir: str | os.PathLike, reviewed_only: bool = False, pad: float = 0.0,
                 progress: Progress = None, cancel: Cancel = None, only: PhotoFilter = None) -> ExportReport:  # fmt: skip
    """Crop every boxed bib from its full-resolution, oriented photo into ``out_dir`` + labels.csv."""
    out = Path(out_dir)
    out.mkdir(exist_ok=True)  # its own folder only, inside one that exists (store.out_folder_problem)
    # labels.csv is written last: while this export runs (or after it was killed) the folder has
    # none, so crops of a half-done export are never taken for a finished one (docs/crash-safety.md).
    (out / "labels.csv").unlink(missing_ok=True)
    photos, bibs = _selection(store, reviewed_only, only)
    rep = ExportReport()
    rows = []
    for i, p in enumerate(photos):
        if _tick(progress, cancel, i, len(photos), rep):
            break
        boxed = [b for b in bibs.get(p.id, []) if b.box is not None]
        if not boxed:
            continue
        try:
            image = load_image(store.path(p))
        except ImageError as exc:
            rep.errors.append((p.relpath, exc.message))
            continue
        rep.photos += 1
        H, W = image.shape[:2]
        for b in boxed:
            x1, y1, x2, y2 = b.box  # type: ignore[misc]
            px, py = (x2 - x1) * pad, (y2 - y1) * pad
            c = (int(max(0, np.floor(x1 - px))), int(max(0, np.floor(y1 - py))), int(min(W, np.ceil(x2 + px))), int(min(H, np.ceil(y2 + py))))
            if c[2] - c[0] < 2 or c[3] - c[1] < 2:
                rep.errors.append((p.relpath, f"bib {b.number}: box outside the photo or too small"))
                continue
            name = f"{safe_name(Path(p.relpath).with_suffix('').as_posix(), portable.MAX_BUILT_NAME - 16)}_{b.id}.png"
            ok, data = cv2.imencode(".png", cv2.cvtColor(image[c[1] : c[3], c[0] : c[2]], cv2.COLOR_RGB2BGR))
            if not ok:
                rep.errors.append((p.relpath, f"bib {b.number}: cannot encode crop"))
                continue
            atomic_write_bytes(out / name, data.tobytes())  # a killed export never leaves a truncated crop
            rows.append([name, b.number, p.relpath, *c, b.source])
            rep.bibs += 1
            rep.written += 1
    # Machine-read (reader training): exact values, no BOM, no formula guard (docs/exports.md).
    atomic_write_text(out / "labels.csv", csv_text([["file", "number", "image", "x1", "y1", "x2", "y2", "source"], *rows]))
    if not rep.cancelled:
        _tick(progress, None, len(photos), len(photos), rep)
    return rep


BIBFOLDERS_MANIFEST = ".bibtagger-bibfolders.json"  # the entries the export made ("bib/name"), written before and after it


def export_bibfolders(store: Store, out_dir: str | os.PathLike, reviewed_only: bool = False, copy: bool = False,
                      progress: Progress = None, cancel: Cancel = None, only: PhotoFilter = None) -> ExportReport:  # fmt: skip
    """One folder per bib number holding symlinks (or copies) of its photos.

    Where symbolic links cannot be made (Windows without Developer Mode or admin rights, FAT/exFAT
    drives) the photos are hard-linked instead, and copied where that fails too (another drive);
    ``report.notes`` says so once (docs/portability.md).

    Exporting again into the same folder removes the links/copies and bib folders an earlier
    export made that are no longer current. What the export made is what its manifest lists (written
    before the first link, so a killed export's links are listed too); anything else in the folder
    is the user's (a link they added, their own file) and is never removed nor replaced: a file of
    theirs under a link's name leaves that photo out of its bib folder (``report.errors``), and links
    to the shoot's photos that the export did not make, or a bib folder no longer current that their
    files keep, are named in ``report.notes``.
    """
    out = Path(out_dir)
    out.mkdir(exist_ok=True)  # its own folder only, inside one that exists (store.out_folder_problem)
    photos, bibs = _selection(store, reviewed_only, only)
    groups = _bib_groups(store, photos, bibs)
    rep = ExportReport()
    folder_of = _bib_folder_names({n for numbers in groups.values() for n in numbers}, rep)
    earlier = _earlier_entries(out, store.folder)
    plan = _bibfolders_plan(photos, groups, folder_of)
    theirs: set[str] = set()
    for p in photos:
        for entry in plan.get(p.id, ()):
            if entry in earlier or not os.path.lexists(out / entry) or _holds_photo(out / entry, store.path(p)):
                continue  # the export's own, free, or the photo itself already (a copy whose manifest was lost)
            theirs.add(entry)
            rep.errors.append((p.relpath, f"{out / entry} is not a link this export made (yours, or another program's): "
                                          "left as it is, so this photo is not linked there"))  # fmt: skip
    planned = {entry for entries in plan.values() for entry in entries} - theirs
    atomic_write_text(out / BIBFOLDERS_MANIFEST, json.dumps(sorted(earlier | planned), indent=0) + "\n")
    made: set[str] = set()
    mode = "copy" if copy else "symlink"
    for i, p in enumerate(photos):
        if _tick(progress, cancel, i, len(photos), rep):
            break
        entries = [e for e in plan.get(p.id, ()) if e not in theirs]
        if not entries:
            continue
        rep.photos += 1
        src = store.path(p).resolve()
        for entry in entries:
            dst = out / entry
            try:
                dst.parent.mkdir(exist_ok=True)
                if os.path.lexists(dst):  # this export's own, from an earlier run (never the user's: theirs)
                    dst.unlink()
                mode = _place(src, dst, mode, rep)
            except OSError as exc:
                rep.errors.append((p.relpath, f"cannot write {dst}: {exc.strerror or exc}"))
                continue
            made.add(entry)
            rep.bibs += 1
            rep.written += 1
    if rep.cancelled:
        made |= earlier  # a partial export removes nothing
    else:
        made |= _remove_stale(out, earlier - made, made, rep)  # what could not be removed stays listed as the export's
    atomic_write_text(out / BIBFOLDERS_MANIFEST, json.dumps(sorted(made), indent=0) + "\n")
    note = _not_made_note(out, store.folder, made)
    if note:
        rep.notes.append(note)
    if not rep.cancelled:
        _tick(progress, None, len(photos), len(photos), rep)
    return rep


def _holds_photo(entry: Path, photo: Path) -> bool:
    """Whether ``entry`` is already ``photo`` (a link to it, a hard link, or a byte-identical copy): replacing it by
    the export's own loses nothing, so it is not taken for the user's file."""
    try:
        if entry.is_symlink():
            return os.path.realpath(entry) == os.path.realpath(photo)
        if not entry.is_file():
            return False
        if os.path.samefile(entry, photo):
            return True
        return entry.stat().st_size == photo.stat().st_size and filecmp.cmp(entry, photo, shallow=False)
    except OSError:
        return False


def _bibfolders_plan(photos: list[Photo], groups: dict[int, list[str]], folder_of: dict[str, str]) -> dict[int, list[str]]:
    """Photo id -> the "bib/name" entries ``bibfolders`` makes for it, named in the photos' (relpath) order
    (:func:`_link_name`), so the manifest can list them before the first is made."""
    names_in: dict[str, dict[str, str]] = {}  # bib folder -> name_key(link name) -> the relpath it stands for
    plan: dict[int, list[str]] = {}
    for p in photos:
        for number in groups[p.id]:
            folder = folder_of[number]
            plan.setdefault(p.id, []).append(f"{folder}/{_link_name(p.relpath, names_in.setdefault(folder, {}))}")
    return plan


def _tagged(name: str, source: str, limit: int = portable.MAX_BUILT_NAME) -> str:
    """``name`` with ``~`` and 8 hex digits of ``source``'s sha1 (before the extension when it has one)."""
    import hashlib

    tag = "~" + hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    stem, dot, ext = name.rpartition(".")
    if dot and stem:
        return portable.shorten_name(f"{stem}{tag}.{ext}", limit)
    return portable.shorten_name(name, limit - len(tag)) + tag


def _bib_folder_names(numbers: Iterable[str], rep: ExportReport) -> dict[str, str]:
    """Bib number -> its folder's name in ``bibfolders``: :func:`safe_name` of the number.

    Two different numbers whose safe names are one folder (``A.1`` and ``A/1`` are both ``A_1``; ``a1``
    and ``A1`` are one folder on Windows, a Mac or an exFAT stick) must not share it silently: in the
    numbers' sorted order (so a re-export, or an export of part of the photos that holds the same
    numbers, names them alike) the first keeps the name and each later one gets ``~`` and 8 hex digits
    of its number's sha1; ``rep.notes`` says which."""
    names: dict[str, str] = {}
    owner: dict[str, str] = {}  # name_key(folder name) -> the number it holds
    for number in sorted(numbers):
        name = safe_name(number)
        first = owner.get(portable.name_key(name))
        if first is not None:
            name = _tagged(name, number)
            rep.notes.append(f"bibs {first!r} and {number!r} would share the folder {safe_name(number)}; "
                             f"{number!r} is in {name}")  # fmt: skip
        owner[portable.name_key(name)] = number
        names[number] = name
    return names


def _link_name(relpath: str, used: dict[str, str]) -> str:
    """The name of a photo's link (or copy) in one bib folder: its relpath with ``/`` as ``__``.

    Two photos of one bib whose names would be one file there (``a/b.jpg`` and ``a__b.jpg``; or
    ``IMG_1.JPG`` and ``img_1.jpg``, one file on an exFAT stick, Windows or a Mac) must not replace
    each other: the later one (photos go in relpath order, so a re-export names them alike) gets
    ``~`` and 8 hex digits of its relpath's sha1 before the extension. ``used`` maps the folder's
    names so far (``name_key``: case and Unicode form ignored) to their relpaths."""
    name = portable.shorten_name(relpath.replace("/", "__"))
    if used.get(portable.name_key(name), relpath) != relpath:
        name = _tagged(name, relpath)
    used[portable.name_key(name)] = relpath
    return name


# Windows: ERROR_PRIVILEGE_NOT_HELD (symlink without Developer Mode), ERROR_INVALID_FUNCTION /
# ERROR_NOT_SUPPORTED (FAT, exFAT, some network shares), ERROR_NOT_SAME_DEVICE, ERROR_TOO_MANY_LINKS.
_NO_LINK_WINERRORS = frozenset({1314, 1, 50, 17, 1142})
_NO_LINK_ERRNOS = frozenset(
    getattr(errno, n) for n in ("EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV", "EMLINK") if hasattr(errno, n)
)


def _links_refused(exc: OSError) -> bool:
    """Whether ``exc`` says this kind of link cannot be made here at all (not: this one file failed)."""
    return getattr(exc, "winerror", None) in _NO_LINK_WINERRORS or exc.errno in _NO_LINK_ERRNOS


def _place(src: Path, dst: Path, mode: str, rep: ExportReport) -> str:
    """Put ``src`` at ``dst`` as a symlink, hard link or copy; returns the mode for the next photos
    (a refused symlink falls back to a hard link, a refused hard link to a copy, noted once)."""
    if mode == "symlink":
        try:
            os.symlink(src, dst)
            return mode
        except (OSError, NotImplementedError) as exc:
            if isinstance(exc, OSError) and not _links_refused(exc):
                raise
            rep.notes.append(f"symbolic links cannot be made in {dst.parent.parent} ({_why(exc)}; on Windows they need "
                             "Developer Mode or admin rights): the photos are hard-linked instead, else copied")  # fmt: skip
            mode = "hardlink"
    if mode == "hardlink":
        try:
            os.link(src, dst)
            return mode
        except OSError as exc:
            if not _links_refused(exc):
                raise
            rep.notes.append(f"hard links cannot be made from {src.parent} to {dst.parent.parent} ({_why(exc)}, e.g. "
                             "another drive): the photos are copied instead")  # fmt: skip
            mode = "copy"
    tmp = dst.with_name(f".{dst.name}.tmp")  # a killed export never leaves a truncated photo copy
    try:
        shutil.copy2(src, tmp)
        portable.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or a refused rename leaves no hidden half copy
        raise
    return mode


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__


def _earlier_entries(out: Path, photo_folder: Path) -> set[str]:
    """"bib/name" entries an earlier export made: those its manifest lists. Without a manifest (an export from
    before it had one), the links into the photo folder named as the export names a link to their photo
    (:func:`_link_name`: the photo's relpath with ``/`` as ``__``, maybe shortened or tagged); a link the user
    named otherwise (``10212/my_favourite.jpg``) is theirs. An unreadable manifest is read as none."""
    try:
        entries = json.loads((out / BIBFOLDERS_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entries = None
    if not isinstance(entries, list):  # none, or unreadable: as an export before the manifest
        entries = [f"{link.parent.name}/{link.name}" for link in _links_into(out, photo_folder) if _named_as_made(link, photo_folder)]
    return {e for e in entries if _inside_entry(e)}


def _inside_entry(entry: object) -> bool:
    """Whether a manifest entry is a "bib/name" inside the output folder: two names, neither empty, "." nor "..", and
    no more to this platform's paths (not "/name", nor "C:/name" or "..\\x/name" on Windows), so that joined onto the
    output folder it never names a file elsewhere (a corrupt or handed-on manifest)."""
    if not isinstance(entry, str):
        return False
    parts = entry.split("/")
    return (len(parts) == 2 and all(p and p not in (".", "..") for p in parts)
            and Path(entry).parts == tuple(parts))  # fmt: skip


def _links_into(out: Path, photo_folder: Path) -> list[Path]:
    """The symlinks one level down in ``out`` (where bib folders hold theirs) that point into the photo folder."""
    root = photo_folder.resolve()
    return [link for link in sorted(out.glob("*/*")) if link.is_symlink() and Path(os.path.realpath(link)).is_relative_to(root)]


def _named_as_made(link: Path, photo_folder: Path) -> bool:
    """Whether ``link`` has the name the export gives a link to the photo it points to."""
    rel = Path(os.path.realpath(link)).relative_to(photo_folder.resolve()).as_posix()
    name = portable.shorten_name(rel.replace("/", "__"))
    return link.name in (name, _tagged(name, rel))


def _not_made_note(out: Path, photo_folder: Path, made: set[str]) -> str:
    """The note on links to the shoot's photos in the output folder that the export did not make: "" for none."""
    links = [f"{link.parent.name}/{link.name}" for link in _links_into(out, photo_folder)]
    theirs = [entry for entry in links if entry not in made]
    if not theirs:
        return ""
    more = f" and {len(theirs) - 3} more" if len(theirs) > 3 else ""
    return (f"{len(theirs)} link(s) to photos in {out} were not made by this export and are left as they are: "
            f"{', '.join(theirs[:3])}{more}")


def _remove_stale(out: Path, stale: set[str], made: set[str], rep: ExportReport) -> set[str]:
    """Remove stale links/copies (never folders), then their bib folders when left empty; a bib folder that is no
    longer current but holds files the export did not make stays, named in ``rep.notes`` (it would read as a
    current bib). Returns the entries that could not be removed."""
    kept: set[str] = set()
    for entry in sorted(stale):
        path = out / entry
        try:
            if path.is_symlink() or path.is_file():
                path.unlink()
        except OSError as exc:
            rep.errors.append((entry, f"cannot remove the stale {path}: {exc.strerror or exc}"))
            kept.add(entry)
    current = {e.split("/")[0] for e in made | kept}
    for folder in sorted({(out / e).parent for e in stale}):
        try:
            folder.rmdir()
        except OSError:
            if folder.name in current or not folder.is_dir():
                continue  # still a bib folder, or already gone
            others = sorted(p.name for p in folder.iterdir())
            rep.notes.append(f"the bib folder {folder} is no longer current but holds files this export did not make "
                             f"({', '.join(others[:3])}{', …' if len(others) > 3 else ''}): left as it is")  # fmt: skip
    return kept


def export(store: Store, fmt: str, out: str | os.PathLike | None, reviewed_only: bool = False, copy: bool = False,
           progress: Progress = None, cancel: Cancel = None, only: PhotoFilter = None) -> tuple[ExportReport, str | None]:  # fmt: skip
    """Run one export. Text file formats return their text when ``out`` is None (else write it atomically);
    ``xlsx`` needs ``out``.

    ``progress(done, total)`` counts photos (folder formats per photo, file formats once at the end);
    ``cancel()`` returning True stops a folder export at the next photo (``report.cancelled``).
    ``only(photo)``: export only the photos it accepts (a subset to hand out, core/photo_selection.py).
    """
    rep, text = _export(store, fmt, out, reviewed_only, copy, progress, cancel, only)
    if not reviewed_only:  # a reviewed photo has neither
        for note in (not_recognized_note(store, only), earlier_picture_note(store, only, kept=fmt == "json")):
            if note:  # a late card copied in and not recognized, a card copied over another: said, not silent
                rep.notes.append(note)
    return rep, text


def not_recognized_note(store: Store, only: PhotoFilter = None) -> str:
    """What to say when photos of a report are not recognized yet (``Store.not_recognized``): "" when none."""
    photos = [p for p in store.not_recognized() if only is None or only(p)]
    if not photos:
        return ""
    return (f"{len(photos)} photo(s) not recognized yet, so without bibs here (first: {photos[0].relpath}): "
            f"recognize them first (`bibtagger predict {store.folder}`, or let the app finish), then run this again")


def earlier_picture_note(store: Store, only: PhotoFilter = None, kept: bool = False) -> str:
    """What to say when photos of a report now hold another picture than the one some of their bibs were read on
    (``Store.bibs_by_picture``): "" when none. Those bibs are left out of the report (``kept``: the exchange JSON,
    a round trip of the project for the review, keeps them on the photo's unreviewed entry)."""
    held: dict[int, list[str]] = {}  # photo id -> its numbers read on an earlier picture (a few bibs: read one by one)
    for bib in sorted(map(store.bib, store.bibs_from_earlier_pictures()), key=lambda b: b.id):
        held.setdefault(bib.photo_id, []).append(bib.number)
    photos = sorted((p for p in map(store.photo, held) if not p.missing and (only is None or only(p))),
                    key=lambda p: p.relpath)  # fmt: skip
    if not photos:
        return ""
    first = photos[0]
    numbers = ", ".join(dict.fromkeys(held[first.id]))
    where = ("are kept in this file, on the photos' unreviewed entries, for whoever reviews them (find, keywords and "
             "the other exports leave them out until then)" if kept
             else "are left out here, as keywords leave them, until the photo is reviewed (open it in the app to "
             "confirm or delete them)")  # fmt: skip
    return (f"{len(photos)} photo(s) now hold another picture than the one some of their bibs were read on (the file "
            f"was replaced since; first: {first.relpath}, bib(s) {numbers}): those bibs {where}")


def _export(store: Store, fmt: str, out: str | os.PathLike | None, reviewed_only: bool, copy: bool,
            progress: Progress, cancel: Cancel, only: PhotoFilter) -> tuple[ExportReport, str | None]:  # fmt: skip
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    why = photo_target_problem(out) if out is not None and fmt in FILE_FORMATS + BINARY_FORMATS else None
    if why:  # the report would replace a photo
        raise ExportError(why)
    why = out_folder_problem(out, makes_folder=fmt not in FILE_FORMATS + BINARY_FORMATS) if out is not None else None
    if why:  # a typo in the path, or an unplugged drive: no folders made for it
        raise ExportError(why)
    if fmt in BINARY_FORMATS:
        if out is None:
            raise ValueError(f"--format {fmt} writes a binary file: give --out FILE.{fmt}")
        data, rep = workbook(store, reviewed_only, only)
        atomic_write_bytes(out, data)
        _tick(progress, None, rep.photos, rep.photos, rep)
        return rep, None
    if fmt in FILE_FORMATS:
        text, rep = {"csv": photos_csv, "bibcsv": numbers_csv, "json": annotations_json, "coco": coco_json}[fmt](store, reviewed_only, only)
        if out is None:
            return rep, text
        atomic_write_text(out, BOM + text if fmt in SPREADSHEET_FORMATS else text)
        _tick(progress, None, rep.photos, rep.photos, rep)
        return rep, None
    if out is None:
        raise ValueError(f"--format {fmt} writes a folder: give --out FOLDER")
    _refuse_inside(store.folder, Path(out))
    if fmt == "crops":
        return export_crops(store, out, reviewed_only, only=only, progress=progress, cancel=cancel), None
    return export_bibfolders(store, out, reviewed_only, copy=copy, only=only, progress=progress, cancel=cancel), None


def _refuse_inside(photo_folder: Path, out: Path) -> None:
    """Folder exports inside the photo folder would come back as new photos on the next scan."""
    root, target = Path(os.path.realpath(photo_folder)), Path(os.path.realpath(out))
    if target == root or target.is_relative_to(root):
        raise ExportError(f"{out} is inside the photo folder {photo_folder}: the next scan would take its "
                          "links/crops for new photos; choose a folder outside it")  # fmt: skip
