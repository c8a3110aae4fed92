"""Import bib annotation JSON (the exchange format) into a photo folder's project store.

``bibtagger import DIR FILE.json`` and the GUI's *File > Import Annotations…* both run
:func:`import_annotations`. Entries are matched to the store's photos by relpath (as
``predict --json`` and ``export --format json`` write it), else by a unique file name.
With ``source="auto"`` a bib with a confidence is a prediction (it becomes one of the photo's
model bibs, :meth:`Store.set_model_bibs`) and one without is a human bib. The whole import is
one store transaction (all of it or nothing) and importing the same file again adds nothing.
An entry's ``"reviewed"`` key (written by ``predict --json``/``export --format json``) is honoured:
``true`` makes it the truth for its photo (stale predictions go, the photo is marked reviewed), and
a photo reviewed here differently, or holding your own bibs the file lacks, is reported as a
conflict instead of being merged (docs/volunteers.md). An entry carrying this project's hand-out state
(``"handout"``, core/handout.py) is merged three ways instead, bib by bib (core/handout_merge.py, :func:`_merge`):
the file's changes since the hand-out land on the bibs you did not change otherwise, a bib both sides changed
differently is a conflict that says who did what; a later file of the same volunteer merges over their last merged
one (handout.Return), and an older save of theirs than that one (the files' ``"saved"`` stamps) changes nothing.
Photos are never written: only the project store changes.
See docs/imports.md.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from bibtagger_gui.core import handout
from bibtagger_gui.core import handout_merge as merging
from bibtagger_gui.core.annotations import Handout, PhotoAnnotation
from bibtagger_gui.core.bib import Bib, given_number, given_number_change
from bibtagger_gui.core.name_match import by_folders, describe_candidates
from bibtagger_gui.core.portable import name_key, nfc

SOURCES = ("auto", "human", "model")
ASPECT_TOLERANCE = 0.01  # width/height may differ in scale, not in shape (1 %)


@dataclass
class ImportReport:
    """What :func:`import_annotations` did. Lists hold the file's ``image`` names unless said."""

    entries: int = 0  # photos listed in the file
    matched: int = 0  # of them found in the store
    by_name: list[tuple[str, str]] = field(default_factory=list)  # (image, relpath) matched on the file name only
    human_added: int = 0  # human bibs added (or a model bib the file's reviewer retyped, a human one now)
    confirmed: int = 0  # model bibs the file's reviewer confirmed as they read: human bibs now, nothing added
    model_added: int = 0  # model bibs that are new (not the same as the photo's model bib before)
    already_there: int = 0  # bibs the store had already (a second import counts everything here)
    model_dropped: int = 0  # predictions left out: a number the user deleted there, or repeating a human bib
    model_removed: int = 0  # earlier model bibs replaced by the file's (or by ground truth with mark_reviewed)
    reviewed: int = 0  # photos marked reviewed (mark_reviewed)
    scaled: list[str] = field(default_factory=list)  # boxes scaled to the photo's size
    missing_photos: list[str] = field(default_factory=list)  # not in the store (or gone from disk)
    size_mismatches: list[tuple[str, str]] = field(default_factory=list)  # (image, message): skipped
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (image, why): other entries left out
    other_pictures: int = 0  # of them, photos of this name and size that hold another picture (another_picture)
    skipped_reviewed: list[str] = field(default_factory=list)  # predictions not put on reviewed photos
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (image, what differs): left for a person
    human_removed: int = 0  # human/MTurk bibs deleted because a reviewed entry replaced them (overwrite)
    merged: int = 0  # photos compared with their hand-out state (three-way merge, core/handout.py)
    deleted: int = 0  # bibs deleted because the file's reviewer deleted them after the hand-out
    moved: int = 0  # boxes moved as the file's reviewer moved them
    unreviewed: list[tuple[str, str]] = field(default_factory=list)  # (image, why): a review the merged bibs do not match
    unchanged: list[str] = field(default_factory=list)  # photos that already held exactly the entry: left as they were
    merged_before: list[str] = field(default_factory=list)  # photos this very entry was merged into before: left as they are
    superseded: list[str] = field(default_factory=list)  # an earlier file's entries of a volunteer whose later one was merged
    older: list[str] = field(default_factory=list)  # entries of a volunteer's older save than one of theirs merged: left out
    older_kept: list[tuple[str, str]] = field(default_factory=list)  # (image, what) of them: what they would have changed
    bibs_fixed: list[tuple[str, str]] = field(default_factory=list)  # (image, what): a number's spaces, a box clamped
    bibs_skipped: list[tuple[str, str]] = field(default_factory=list)  # (image, why): a bib left out, the rest imported
    # (image, number): a bib of a returned file with a confidence that matches no bib of its hand-out: a new prediction,
    # nobody's decision, left out (mostly a number a person typed over a prediction, its "confidence" kept)
    predictions_dropped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bibs_added(self) -> int:
        return self.human_added + self.model_added

    @property
    def problems(self) -> list[str]:
        """One line per entry that was not (fully) imported, for a details view or stderr."""
        return (self.left_out + [f"{image}: conflict: {why}" for image, why in self.conflicts] + self.notes
                + self.older_notes + self.bib_notes)  # fmt: skip

    @property
    def older_notes(self) -> list[str]:
        """Photos of a volunteer's file older than one of theirs merged before: left as the newer file had them."""
        return [f"{image}: {what}" for image, what in self.older_kept]

    @property
    def bib_notes(self) -> list[str]:
        """One line per bib the import fixed (a number's spaces, a box outside the photo) or left out (:func:`_checked`)."""
        return [f"{image}: {what}" for image, what in self.bibs_fixed + self.bibs_skipped] + [
            f"{image}: {number} left out: it has a \"confidence\" (a prediction) and the hand-out had no such bib; "
            f"{PREDICTION_HINT}" for image, number in self.predictions_dropped]

    @property
    def notes(self) -> list[str]:
        """Photos merged but left unreviewed: a review that did not see all of their merged bibs."""
        return [f"{image}: {why}" for image, why in self.unreviewed]

    @property
    def left_out(self) -> list[str]:
        """:attr:`problems` but the conflicts (the GUI lists those apart, with their photos)."""
        out = [f"{image}: no such photo in the folder" for image in self.missing_photos]
        out += [f"{image}: {why}" for image, why in self.size_mismatches + self.skipped]
        out += [f"{image}: reviewed here; the file's unreviewed bibs were not imported" for image in self.skipped_reviewed]
        return out

    def summary(self) -> str:
        parts = [
            f"{self.matched} of {self.entries} photo(s) matched",
            f"{self.human_added} human and {self.model_added} model bib(s) added",
            f"{self.already_there} already there",
        ]
        if self.confirmed:
            parts.append(f"{self.confirmed} prediction(s) confirmed as read")
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} photo(s) already as in the file")
        if self.merged_before:
            parts.append(f"{len(self.merged_before)} photo(s) merged from this file before, left as you have them")
        if self.superseded:
            parts.append(f"{len(self.superseded)} photo(s) from a volunteer's earlier file than one merged since, "
                         "left as you have them")
        if self.older:
            parts.append(f"{len(self.older)} photo(s) from a volunteer's older file than one imported before, left as the "
                         f"newer one had them ({_some(self.older)})")  # fmt: skip
        if self.model_removed:
            parts.append(f"{self.model_removed} earlier model bib(s) replaced")
        if self.model_dropped:
            parts.append(f"{self.model_dropped} prediction(s) left out (deleted by you or repeating a human bib)")
        if self.deleted:
            parts.append(f"{self.deleted} bib(s) deleted as in the file")
        if self.moved:
            parts.append(f"{self.moved} box(es) moved as in the file")
        if self.merged:
            parts.append(f"{self.merged} photo(s) compared with their hand-out state")
        if self.human_removed:
            parts.append(f"{self.human_removed} human bib(s) replaced (--overwrite)")
        if self.reviewed:
            parts.append(f"{self.reviewed} photo(s) marked reviewed")
        if self.conflicts:
            parts.append(f"{len(self.conflicts)} conflict(s) left for you to check ({_some(image for image, _ in self.conflicts)})")
        if self.unreviewed:
            parts.append(f"{len(self.unreviewed)} photo(s) left unreviewed (their review did not see all their bibs)")
        if self.bibs_fixed:
            parts.append(f"{len(self.bibs_fixed)} bib(s) fixed (a number's spaces, full-width or invisible characters, "
                         "a box outside its photo)")
        if self.bibs_skipped:
            parts.append(f"{len(self.bibs_skipped)} bib(s) left out (not a bib number)")
        if self.predictions_dropped:
            parts.append(f"{len(self.predictions_dropped)} new bib(s) with a \"confidence\" left out, as predictions nobody "
                         f"decided on ({_some(f'{image} {number}' for image, number in self.predictions_dropped)}): "
                         f"{PREDICTION_HINT}")  # fmt: skip
        if self.by_name:
            parts.append(f"{len(self.by_name)} matched by file name")
        if self.scaled:
            parts.append(f"{len(self.scaled)} photo(s) with scaled boxes")
        if self.missing_photos:
            parts.append(f"{len(self.missing_photos)} photo(s) not in the folder")
        skipped = len(self.size_mismatches) + len(self.skipped) + len(self.skipped_reviewed)
        if skipped:
            parts.append(f"{skipped} skipped")
        return "; ".join(parts)


PREDICTION_HINT = ('if a person typed it, remove its "confidence" in the file and import the file again, taking its '
                   "version of the photo (--overwrite; in the app, the conflicts list's \"Take the file's version\")")


def _some(names: Iterable[str], limit: int = 5) -> str:
    """``a.jpg, b.jpg`` / ``a.jpg, …, e.jpg and 3 more``: the photos a summary line names."""
    names = list(dict.fromkeys(names))
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _norm(image: str) -> str:
    rel = image.replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    return rel


class _PhotoIndex:
    """The store's photos (present on disk) by relpath and by lower-case file name.

    A file name several photos share is still matched when exactly one of them has the longest run
    of the entry's last folder names (``Volunteer/cam1/IMG_1.jpg`` is ``2024/cam1/IMG_1.jpg``, not
    ``2024/cam2/IMG_1.jpg``).

    Both also match in NFC, so names written on one system match the decomposed (NFD) names a
    macOS file system hands out on another.
    """

    def __init__(self, store: Any):
        self.by_rel = {p.relpath: p for p in store.photos()}
        self.by_nfc = {nfc(rel): p for rel, p in self.by_rel.items()}  # macOS names may be NFD, the file's NFC
        self.by_name: dict[str, list[Any]] = {}
        self.claimed: set[int] = set()  # photos that some entry names by their exact path (:meth:`claim_exact`)
        for p in self.by_rel.values():
            self.by_name.setdefault(name_key(Path(p.relpath).name), []).append(p)

    def exact(self, image: str) -> Any | None:
        """The photo at ``image``'s relative path (as written, else in NFC), or None."""
        rel = _norm(image)
        return self.by_rel.get(rel) or self.by_nfc.get(nfc(rel))

    def claim_exact(self, images: Iterable[str]) -> None:
        """Photos that ``images`` name by their exact path are theirs: no other name falls back to them.

        A file from a server that holds ``card1/IMG_1.JPG`` and ``card2/IMG_1.JPG``, imported into a
        folder with only ``card2/``, must not put card1's bibs on card2's photo by their shared name."""
        self.claimed |= {p.id for p in map(self.exact, images) if p is not None}

    def find(self, image: str) -> tuple[Any | None, str]:
        """(photo, how): how is "path", "name", or why it failed ("missing" / "ambiguous: ...")."""
        photo = self.exact(image)
        if photo is not None:
            return photo, "path"
        rel = _norm(image)
        cands = [p for p in self.by_name.get(name_key(rel.rsplit("/", 1)[-1]), []) if p.id not in self.claimed]
        if len(cands) == 1:
            return cands[0], "name"
        if len(cands) > 1:  # IMG_0001.JPG of two cameras: the one whose folders end like the entry's (or spelled so)
            rel_of = {p.relpath: p for p in cands}
            hit = by_folders(rel, rel_of)
            if hit is not None:
                return rel_of[hit], "name"
            return None, f"ambiguous: {describe_candidates(rel_of)}"
        return None, "missing"


def photos_for(store: Any, images: Iterable[str]) -> dict[str, Any]:
    """image -> the photo an import matches it to (relpath, unique name, folders), for the images that match one."""
    images = list(images)
    index = _PhotoIndex(store)
    index.claim_exact(images)
    found = {image: index.find(image)[0] for image in images}
    return {image: photo for image, photo in found.items() if photo is not None}


def _scale(entry: PhotoAnnotation, photo: Any) -> tuple[tuple[float, float] | None, str | None]:
    """((sx, sy), None) to map the entry's boxes onto the photo, or (None, why it does not fit)."""
    if entry.width is None or entry.height is None:
        return (1.0, 1.0), None
    if photo.width is None or photo.height is None:
        if any(b.box is not None for b in entry.bibs):
            return None, "the photo's size is unknown (it could not be read), so its boxes cannot be placed"
        return (1.0, 1.0), None
    if (entry.width, entry.height) == (photo.width, photo.height):
        return (1.0, 1.0), None
    ratio = (entry.width / entry.height) / (photo.width / photo.height)
    if abs(ratio - 1.0) > ASPECT_TOLERANCE:
        hint = " (EXIF orientation not applied?)" if (entry.width, entry.height) == (photo.height, photo.width) else ""
        return None, f"size {entry.width}x{entry.height} in the file, {photo.width}x{photo.height} here{hint}: skipped"
    return (photo.width / entry.width, photo.height / entry.height), None


def another_picture(states: list[Handout], photo: Any, pixels: str | None) -> str | None:
    """Why an entry handed out by another project is not about ``photo`` (None when it may be): a hand-out state
    of the photo's pixel size whose image-data hash (core/pixelhash) differs from ``pixels``, and none that agrees.
    A file of another shoot whose camera names its photos alike (``IMG_0001.JPG``, same size) would otherwise put
    its bibs, and its reviews, on other runners' photos. Copies made another size (scaled hand-outs), photos whose
    hash is unknown on either side (TIFF, not read yet) and files without hand-out states are not judged."""
    if not pixels:
        return None
    sized = [h for h in states if h.pixel_hash and (h.width, h.height) == (photo.width, photo.height)]
    if not sized or any(h.pixel_hash == pixels for h in sized):
        return None
    return ("another picture than the one this entry was handed out with (same name and size, other image data: "
            "a file of another shoot?): skipped")


def _scaled(bib: Bib, s: tuple[float, float]) -> Bib:
    if bib.box is None or s == (1.0, 1.0):
        return bib
    x1, y1, x2, y2 = bib.box
    return Bib(bib.number, (x1 * s[0], y1 * s[1], x2 * s[0], y2 * s[1]), bib.confidence)


def _spellings(store: Any, photo_id: int, handouts: Iterable[Handout]) -> Callable[[], set[str]]:
    """The numbers as the project spells them for a photo (its bibs, the hand-out states of the entry): read once,
    when :func:`_checked` first asks (only for a number the rule changes)."""
    @functools.cache
    def known() -> set[str]:
        return {r.number for r in store.bibs(photo_id)} | {b.number for h in handouts for b in h.bibs}

    return known


def _checked(bibs: list[Bib], photo: Any, image: str, report: ImportReport,
             known: Callable[[], set[str]] = set) -> tuple[list[Bib], bool]:
    """The entry's bibs (boxes already in the photo's frame) under the rules a typed number follows
    (``core.bib.given_number``: spaces dropped, at most 12 characters) and inside the photo: a box reaching
    past its edges is clamped to them, one wholly outside is dropped (the number stays, without a box). What
    was fixed or left out goes to ``report``, bib by bib. Returns (the bibs kept, whether one was left out).

    ``known``: the spellings the project already has for this photo (its bibs, its hand-out states). A number the
    rule would change but written exactly as one of them stays as it is: a project's "１８１" typed before numbers
    were taken in NFKC (stop 32) comes back in its own export as "１８１", and read as 181 it matched neither the
    project's bib nor its hand-out state, so re-importing an unchanged file rewrote the bib and deleted a
    prediction of it (lookups compare them alike anyway, docs/bib-numbers.md)."""
    kept, lost = [], False
    w, h = photo.width, photo.height
    for bib in bibs:
        label = f"bib {bib.number!r}"
        try:
            number = given_number(bib.number)
        except ValueError as exc:
            report.bibs_skipped.append((image, f"{label}: {exc}: left out"))
            lost = True
            continue
        if number != bib.number and bib.number in known():
            number = bib.number  # the project's own spelling of it (see above)
        if number != bib.number:
            report.bibs_fixed.append((image, f"{label}: read as {number} ({given_number_change(bib.number)})"))
            label = f"bib {number!r}"
        box = bib.box
        if box is not None and w and h:
            x1, y1, x2, y2 = box
            inside = (min(max(x1, 0.0), w), min(max(y1, 0.0), h), min(max(x2, 0.0), w), min(max(y2, 0.0), h))
            shown = "[" + ", ".join(f"{v:g}" for v in box) + "]"
            if inside[2] <= inside[0] or inside[3] <= inside[1]:
                report.bibs_fixed.append((image, f"{label}: box {shown} lies outside the {w}x{h} photo: "
                                                 "imported without a box"))  # fmt: skip
                box = None
            elif any(abs(a - b) > 0.5 for a, b in zip(inside, box)):  # (a scaled box's rounding is no news)
                report.bibs_fixed.append((image, f"{label}: box {shown} clamped to the {w}x{h} photo"))
                box = inside
            else:
                box = inside
        kept.append(Bib(number, box, bib.confidence))
    return kept, lost


def _same_bib(row: Any, bib: Bib) -> bool:
    """A stored bib with the number and box (within half a pixel) of ``bib``, whatever its confidence."""
    if row.number != bib.number or (row.box is None) != (bib.box is None):
        return False
    return row.box is None or all(abs(float(x) - float(y)) <= 0.5 for x, y in zip(row.box, bib.box))


def _same_model_bib(row: Any, bib: Bib) -> bool:
    """A stored model bib equal to an imported prediction (a re-import of the same file): :func:`_same_bib`, and
    the same confidence (or none on both)."""
    return _same_bib(row, bib) and (row.confidence is None) == (bib.confidence is None) and (
        row.confidence is None or abs(row.confidence - bib.confidence) <= 1e-6
    )


def _as_in_file(store: Any, photo_id: int, human: list[Bib], model: list[Bib], source: str, truth: bool,
                reviewed: bool | None, recognized: bool = False) -> int | None:  # fmt: skip
    """How many bibs the entry has, when the photo already holds exactly them and nothing else: its human bibs as
    human or MTurk bibs (in ``auto`` mode also as a model bib without a confidence, which an export writes alike),
    its predictions as model bibs with their confidence; and the reviewed flag the import would give it. Else None.

    Such a photo is left as it is, whatever else the import would weigh (a hand-out state, a prediction repeating
    a human bib, a model bib the file confirms): importing data identical to the project's is a no-op."""
    photo = store.photo(photo_id)
    want = None if source == "model" else (True if truth else reviewed)
    if want is not None and photo.reviewed != want:
        return None
    records = not truth and (bool(model) or (source == "model" and not human)
                             or (recognized and reviewed is False and source == "auto"))
    if records and photo.model_version is None:  # the import would record the photo as recognized (_import_photo)
        return None
    free = list(store.bibs(photo_id))
    for bib in model:
        hit = next((r for r in free if r.source == "model" and _same_model_bib(r, bib)), None)
        if hit is None:
            return None
        free.remove(hit)
    for bib in human:  # people's rows first: a model row stands in only for a confidence-less prediction
        hit = next((r for r in sorted(free, key=lambda r: r.source == "model") if _same_bib(r, bib)
                    and (r.source != "model" or (source == "auto" and r.confidence is None))), None)  # fmt: skip
        if hit is None:
            return None
        free.remove(hit)
    return None if free else len(model) + len(human)


def _pair(rows: Iterable[Any], bibs: Iterable[Bib]) -> int:
    """How many of ``bibs`` have an equal row (each row used once)."""
    free = list(rows)
    n = 0
    for bib in bibs:
        hit = next((r for r in free if _same_model_bib(r, bib)), None)
        if hit is not None:
            free.remove(hit)
            n += 1
    return n


def _pairs(rows: Iterable[Any], bibs: Iterable[Bib]) -> tuple[list[tuple[Bib, Any]], list[Bib], list[Any]]:
    """Pair ``bibs`` with ``rows`` (same number in the same place, each row once; human/MTurk rows first).

    Returns (pairs, bibs without a row, rows without a bib).
    """
    free = sorted(rows, key=lambda r: (r.source == "model", r.id))
    pairs, lone = [], []
    for bib in bibs:
        hit = next((r for r in free if r.number == bib.number and merging.same_place(r.box, bib.box)), None)
        if hit is None:
            lone.append(bib)
        else:
            free.remove(hit)
            pairs.append((bib, hit))
    return pairs, lone, free


def import_annotations(
    store: Any,
    entries: Iterable[PhotoAnnotation],
    source: str = "auto",
    mark_reviewed: bool = False,
    name: str = "annotations.json",
    overwrite: bool = False,
) -> ImportReport:
    """Put the bibs of ``entries`` (from :func:`core.annotations.load_annotations`) into ``store``.

    ``source``: ``auto`` (a bib with a confidence is a prediction, one without a human bib),
    ``human`` or ``model`` (every bib is one). Predictions replace the photo's model bibs
    (``set_model_bibs(..., model_version="import:<name>")``, which never touches human/MTurk bibs
    and never brings back a number the user deleted there); reviewed photos keep theirs, as with
    ``predict``. Human bibs are added unless the photo has one with the same number in the same
    place (box IoU >= 0.5, or either has no box); a model bib there is turned into that human bib.
    ``mark_reviewed``: every photo whose entry holds no predictions is ground truth -- its
    model bibs go and it is marked reviewed (an empty entry: a photo without bibs).

    The entries' own ``reviewed`` key (``PhotoAnnotation.reviewed``, written by predict/export)
    comes first (not with ``source="model"``): ``True`` makes the entry the truth for its photo as
    above; ``False`` never does, and says the entry lists every bib of the photo, so its predictions,
    even none, replace the photo's model bibs. A truth entry for a photo reviewed here with other bibs,
    or for a photo holding human/MTurk bibs the entry lacks, is a *conflict*: the reviewed photo is left
    as it is, the other gets the entry's bibs but keeps its own and stays unreviewed; both are listed
    in ``report.conflicts``. ``overwrite``: truth entries win instead (bibs they lack are deleted,
    whatever their source). An unreviewed entry never changes a photo reviewed here.

    Boxes of an entry whose width/height differ from the photo's (oriented) size are scaled when
    the aspect ratio agrees within 1 %; otherwise the entry is skipped and reported. Everything
    happens in one transaction; a second import of the same file changes nothing. A photo that already holds
    exactly an entry's bibs (and the reviewed flag the import would give it) is left as it is, whatever the rules
    above would weigh, and listed in ``report.unchanged``: your own export imported back is a no-op.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    if mark_reviewed and source == "model":
        raise ValueError("predictions cannot be marked reviewed: import them as human bibs (source='human')")
    entries = list(entries)
    version = f"import:{name}"
    report = ImportReport(entries=len(entries))
    with store.transaction():
        mine = handout.project_id(store)
        index = _PhotoIndex(store)
        index.claim_exact(e.image for e in entries)
        hashes: dict[int, str | None] | None = None  # image-data hashes, read once (a merge compares them)
        merged: dict[str, str] | None = None  # the returned entries merged before (handout.MERGED_PREFIX), read once
        returns: dict[str, str] = {}  # each volunteer's last entry merged (handout.RETURNED_PREFIX), read with it
        taken: dict[int, str] = {}  # photo id -> image that claimed it
        for entry in entries:
            photo, how = index.find(entry.image)
            if photo is None:
                if how == "missing":
                    report.missing_photos.append(entry.image)
                else:
                    report.skipped.append((entry.image, how))
                continue
            if photo.id in taken:
                report.skipped.append((entry.image, f"same photo as {taken[photo.id]!r} ({photo.relpath})"))
                continue
            taken[photo.id] = entry.image
            s, why = _scale(entry, photo)
            if s is None:
                report.size_mismatches.append((entry.image, why or "size differs"))
                continue
            base = next((h for h in entry.handouts if mine is not None and h.project == mine), None)
            if base is None and entry.handouts:  # handed out by another project: is it this picture at all?
                if hashes is None:
                    hashes = store.pixel_hashes()
                why = another_picture(entry.handouts, photo, hashes.get(photo.id))
                if why is not None:
                    report.skipped.append((entry.image, why))
                    report.other_pictures += 1
                    continue
            report.matched += 1
            if how == "name":
                report.by_name.append((entry.image, photo.relpath))
            if s != (1.0, 1.0):
                report.scaled.append(entry.image)
            bibs, lost = _checked([_scaled(b, s) for b in entry.bibs], photo, entry.image, report,
                                  _spellings(store, photo.id, entry.handouts))
            if source == "auto":
                human = [b for b in bibs if b.confidence is None]
                model = [b for b in bibs if b.confidence is not None]
            elif source == "human":
                human, model = [Bib(b.number, b.box, None) for b in bibs], []
            else:
                human, model = [], bibs
            truth = source != "model" and (entry.reviewed is True or (mark_reviewed and entry.reviewed is None and not model))
            review_lost = truth and lost  # a review of bibs that did not all come in is no review of the photo
            truth = truth and not lost
            seen = replace(entry, reviewed=False) if review_lost and entry.reviewed else entry  # the same rule
            ret = None  # a volunteer's return: what to note of it (handout.Return) once imported
            if base is not None and source == "auto":
                if merged is None:
                    merged = store.meta_with_prefix(handout.MERGED_PREFIX)
                    returns = store.meta_with_prefix(handout.RETURNED_PREFIX)
                fingerprint = handout.entry_fingerprint(entry)
                again = handout.merged_before(merged, photo.id, fingerprint)
                who = handout.volunteer(entry, mine)
                last = handout.last_return(returns, photo.id, who, base) if who is not None else None
                if last is not None and again and last.fingerprint != fingerprint:
                    # an earlier file of this volunteer, merged before the later one that was merged since: theirs is
                    # the later word (docs/volunteers.md#a-volunteers-corrected-file)
                    report.superseded.append(entry.image)
                    continue
                if handout.older(entry.saved, last, who):  # an older save of theirs, first seen after a newer one: the
                    # newer file lists the whole photo as they had it later (docs/volunteers.md#which-file-is-newer)
                    report.older.append(entry.image)
                    flag = last.state.reviewed  # the newer file's, said where the older one has the other
                    line = handout.older_line(entry.saved, last, merging.differing(last.state.bibs, bibs),
                                              None if seen.reviewed is None or bool(seen.reviewed) == flag else flag)
                    if line is not None:
                        report.older_kept.append((entry.image, line))
                    continue
                since, since_file = base, None  # the base of this merge: the hand-out, or the volunteer's last file
                if last is not None and last.fingerprint == fingerprint:  # their last file again: as it was merged
                    since, since_file = last.since, last.since_file
                elif last is not None:  # their later file: over their last one
                    since, since_file = last.state, last.file
                if who is not None:
                    state = Handout(base.project, base.width, base.height, base.pixel_hash,
                                    since.reviewed if seen.reviewed is None else bool(seen.reviewed), bibs)  # fmt: skip
                    saved = entry.saved if entry.saved is not None and entry.saved.project == who else None
                    again_last = last is not None and last.fingerprint == fingerprint and last.imported  # first import's time
                    ret = handout.Return(fingerprint, state, name, since, since_file, saved,
                                         last.imported if again_last else handout.utc_now())  # fmt: skip
            handout.remember(store, photo.id, [h for h in entry.handouts if h.project != mine])  # not an older word's
            same = _as_in_file(store, photo.id, human, model, source, truth, entry.reviewed, entry.recognized)
            if same is not None:  # the project holds exactly this (your own export back): nothing to do
                report.already_there += same
                report.unchanged.append(entry.image)
                if ret is not None:  # the volunteer's word all the same: their next file merges over it
                    handout.remember_merged(store, merged, photo.id, fingerprint)
            elif base is not None and source == "auto":  # it comes back: what changed on which side since
                if hashes is None:
                    hashes = store.pixel_hashes()
                _merge(store, photo, seen, since, bibs, overwrite, version, report, hashes.get(photo.id), again,
                       f"over the volunteer's earlier file {since_file}" if since_file else "after the hand-out")  # fmt: skip
                handout.remember_merged(store, merged, photo.id, fingerprint)
            elif truth:  # with --as human every bib is a human one, confidence or not
                _import_truth(store, photo, entry.image, bibs if source == "auto" else human, overwrite, report)
            else:
                _import_photo(store, photo, entry, human, model, source, version, report)
            if ret is not None:
                handout.remember_return(store, returns, photo.id, who, base, ret)
            if review_lost and not store.photo(photo.id).reviewed and all(i != entry.image for i, _ in report.unreviewed):
                report.unreviewed.append((entry.image, "left unreviewed: a bib of the file's review was left out"))
    return report


def _import_truth(store: Any, photo: Any, image: str, bibs: list[Bib], overwrite: bool, report: ImportReport) -> None:
    """A reviewed entry (or ground truth): its bibs are what is on the photo."""
    rows = store.bibs(photo.id)
    pairs, lone, extra = _pairs(rows, bibs)
    reviewed = store.photo(photo.id).reviewed
    if reviewed and not lone and not extra:
        report.already_there += len(pairs)  # the same review (a re-import): nothing to do
        return
    if reviewed and not overwrite:  # two reviews disagree: a person decides, the first one stays meanwhile
        report.conflicts.append((image, f"reviewed here with {merging.number_list(rows)}, the file's review has {merging.number_list(bibs)}: "
                                        f"left as it is{merging.OVERWRITE_HINT}"))  # fmt: skip
        return
    for bib, row in pairs:
        if row.source == "model" and bib.confidence is None:  # the file confirms a model reading: a human bib now
            store.update_bib(row.id, number=bib.number, box=bib.box if bib.box is not None else row.box)
            report.confirmed += 1
        else:
            report.already_there += 1
    for bib in lone:
        store.add_bib(photo.id, bib.number, bib.box, source="human")
        report.human_added += 1
    kept = []
    for row in extra:
        if row.source == "model":  # a stale prediction the reviewer deleted or corrected
            store.delete_bib(row.id)
            report.model_removed += 1
        elif overwrite:
            store.delete_bib(row.id)
            report.human_removed += 1
        else:
            kept.append(row)
    if kept:  # your own bibs the reviewer did not have (or deleted): kept, and the photo waits for you
        report.conflicts.append((image, f"your bib(s) {merging.number_list(kept)} are not in the file's review ({merging.number_list(bibs)}): "
                                        f"kept, photo left unreviewed{merging.OVERWRITE_HINT}"))  # fmt: skip
        return
    if not reviewed:
        store.set_reviewed(photo.id, True)
        report.reviewed += 1


def _add_human(store: Any, photo_id: int, bib: Bib, report: ImportReport) -> None:
    """Add a human bib, unless the photo has one with its number in its place; a model bib there becomes it."""
    same = [r for r in store.bibs(photo_id) if r.number == bib.number and merging.same_place(r.box, bib.box)]
    if any(r.source != "model" for r in same):
        report.already_there += 1
        return
    if same:  # the file confirms a model reading: it becomes a human bib (no duplicate box)
        store.update_bib(same[0].id, number=bib.number, box=bib.box if bib.box is not None else same[0].box)
        report.confirmed += 1
    else:
        store.add_bib(photo_id, bib.number, bib.box, source="human")
        report.human_added += 1


def _import_photo(
    store: Any, photo: Any, entry: PhotoAnnotation, human: list[Bib], model: list[Bib],
    source: str, version: str, report: ImportReport,
) -> None:  # fmt: skip
    if entry.reviewed is False and store.photo(photo.id).reviewed:  # a stale unreviewed copy of a photo reviewed here
        pairs, lone, _extra = _pairs(store.bibs(photo.id), human + model)  # the entry's bibs, scaled and checked
        if lone:
            report.skipped_reviewed.append(entry.image)
        else:
            report.already_there += len(pairs)
        return
    for bib in human:
        _add_human(store, photo.id, bib, report)
    whole = entry.reviewed is False and source == "auto"  # bibtagger's own entry lists all bibs: its predictions are all of them
    if not model and not whole and not (source == "model" and not entry.bibs):
        return
    current = store.photo(photo.id)
    if current.reviewed:
        if model:
            report.skipped_reviewed.append(entry.image)
        return
    old = [r for r in store.bibs(photo.id) if r.source == "model"]
    if not model and source != "model" and not entry.recognized and current.model_version is None and not old:
        # no prediction in the file for a photo no recognizer has seen here, and the file does not say one looked
        # ("recognized": true, predict/export): an own export's entry of a photo never recognized lists no model bib
        # because there is none, not because none was found; it stays for the recognizer (not_recognized)
        return
    expected = store.model_bibs_to_keep(photo.id, model)
    report.model_dropped += len(model) - len(expected)
    if current.model_version is not None and len(old) == len(expected) and _pair(old, expected) == len(expected):
        report.already_there += len(expected)  # the same predictions: leave the photo as it is
        return
    new_rows = store.set_model_bibs(photo.id, expected, model_version=version)
    same = _pair(old, [r.to_bib() for r in new_rows])
    report.already_there += same
    report.model_added += len(new_rows) - same
    report.model_removed += len(old) - same



def _merge(
    store: Any, photo: Any, entry: PhotoAnnotation, base: Handout, bibs: list[Bib], overwrite: bool, version: str,
    report: ImportReport, pixels: str | None, again: bool = False, since: str = "after the hand-out",
) -> None:  # fmt: skip
    """Three-way merge of an entry that left this project as ``base``, bib by bib (core/handout_merge.py,
    docs/volunteers.md).

    ``pixels``: the photo's image-data hash (``Store.pixel_hashes``, read once per import: reading the
    whole table for each entry made a 2,000-photo return to a 10,000-photo project take 15 s).

    The file's changes since the hand-out land on the bibs you did not change otherwise; a bib changed
    differently on both sides is a conflict and stays as you have it (the photo's other bibs still merge),
    unless ``overwrite``: then the photo takes the file's version. A photo that is another picture now is
    left as it is (or takes the file's, with ``overwrite``) when the volunteer changed anything.

    ``again``: this very entry was merged into the photo before (the same file imported twice). What you did since
    (a bib the volunteer added deleted, the photo marked unreviewed) is your decision over theirs: nothing is
    written, and the conflicts that still hold are listed again (``overwrite`` still takes the file's).
    ``since``: what ``base`` is, in the conflict lines (a volunteer's earlier file, when this is their later one).
    """
    report.merged += 1
    photo = store.photo(photo.id)
    rows = store.bibs(photo.id)
    here_now = [merging.Item(r.to_bib(), r.source != "model", r) for r in rows]
    file = merging.side(base, [merging.Item(b, b.confidence is None) for b in bibs], entry.reviewed)
    # new predictions count for nothing (nobody's decision), which is said: a number typed over a prediction with its
    # "confidence" kept was dropped while the prediction it replaced counted as deleted, without a word (not
    # --overwrite of a conflict, which takes the file's bibs, predictions too)
    dropped = [(entry.image, i.bib.number) for i in file.predicted]
    if not file.touched:
        report.predictions_dropped += dropped  # the reviewer changed nothing: the photo stays as you have it
        report.already_there += sum(f.item is not None for f in file.fates)
        return
    replaced = (base.width is not None and (base.width, base.height) != (photo.width, photo.height)) or (
        bool(base.pixel_hash) and bool(pixels) and base.pixel_hash != pixels
    )
    if replaced:
        if overwrite:
            _take_file(store, photo, entry, bibs, version, report)
        else:
            report.conflicts.append((entry.image, "the photo was replaced by another picture after the hand-out; the volunteer "
                                     f"{file.describe()} on the old one: left as it is{merging.OVERWRITE_HINT}"))  # fmt: skip
            report.predictions_dropped += dropped
        return
    here = merging.side(base, here_now, photo.reviewed, store.deleted_numbers(photo.id))
    result = merging.merge(file, here)
    if result.conflicts and overwrite:
        _take_file(store, photo, entry, bibs, version, report)
        return
    report.predictions_dropped += dropped
    if again:  # merged before: what changed here since is yours; only the conflicts are said again
        report.merged_before.append(entry.image)
        report.already_there += sum(f.item is not None for f in file.fates)
        why = result.why(since)
        if why is not None:
            report.conflicts.append((entry.image, why))
        return
    for step in result.steps:
        row = step.row.origin if step.row is not None else None
        if step.kind == "delete":
            store.delete_bib(row.id)
            report.deleted += 1
        elif step.kind == "update":
            store.update_bib(row.id, number=step.bib.number, box=step.bib.box)
            report.human_added += 1
        elif step.kind == "move":
            store.update_bib(row.id, box=step.bib.box)
            report.moved += 1
        elif step.kind == "confirm":
            store.update_bib(row.id)
            report.confirmed += 1
        else:
            _add_human(store, photo.id, step.bib, report)
    written = {s.base for s in result.steps}
    report.already_there += sum(f.item is not None and b not in written for b, f in enumerate(file.fates))
    why = result.why(since)
    if why is not None:
        report.conflicts.append((entry.image, why))
    for item in result.spare:  # the file's review is taken: the predictions it lacks go
        store.delete_bib(item.origin.id)
        report.model_removed += 1
    if result.reviewed != photo.reviewed:
        store.set_reviewed(photo.id, result.reviewed)
        report.reviewed += int(result.reviewed)
    if result.withheld is not None:
        report.unreviewed.append((entry.image, result.withheld))


def _take_file(store: Any, photo: Any, entry: PhotoAnnotation, bibs: list[Bib], version: str, report: ImportReport) -> None:
    """``--overwrite`` of a conflict: the photo gets the entry's bibs and reviewed flag, whatever it had."""
    if entry.reviewed is True:
        _import_truth(store, photo, entry.image, bibs, True, report)
        return
    _paired, _lone, extra = _pairs(store.bibs(photo.id), bibs)
    for row in extra:
        store.delete_bib(row.id)
        if row.source == "model":
            report.model_removed += 1
        else:
            report.human_removed += 1
    store.set_reviewed(photo.id, False)
    human = [b for b in bibs if b.confidence is None]
    model = [b for b in bibs if b.confidence is not None]
    _import_photo(store, photo, PhotoAnnotation(entry.image, entry.width, entry.height, bibs, False,
                                                recognized=entry.recognized), human, model, "auto",
                  version, report)  # fmt: skip
