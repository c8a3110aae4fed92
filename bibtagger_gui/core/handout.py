"""Hand-out states (the "base" of a three-way merge) in the exchange JSON, and what each side changed since.

``export --format json`` writes on each entry a ``"handout"`` list (readers of the format ignore it):
this project's state of the photo -- its id (store meta ``project_id``), size, image-data hash,
reviewed flag and bibs -- followed by the states other projects handed the photo out with, which an
import remembers (store meta ``handout:<photo id>``). So a volunteer's export carries the organiser's
hand-out state back unchanged, and the organiser's import can tell what the volunteer changed (base vs
the file's entry) from what the organiser changed since (base vs the store now): docs/volunteers.md.
Qt-free; the import applies the result (core/importers.py).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from bibtagger_gui.core.annotations import AnnotationError, Handout, parse_handouts
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.review import iou_boxes

PROJECT_KEY = "project_id"  # store meta: this project's id, written into the hand-out states it exports
REMEMBERED_PREFIX = "handout:"  # store meta handout:<photo id>: the states other projects handed the photo out with
SAME_BOX_IOU = 0.5  # same number and this overlap (or a missing box): the same bib
MOVE_TOLERANCE = 1.0  # px: a box that moved less is not a change (boxes are rounded when files are scaled)
_READ: Any = object()


def project_id(store: Any, create: bool = False) -> str | None:
    """This project's id (made on the first export: ``create``); None when it has none yet."""
    pid = store.get_meta(PROJECT_KEY)
    if pid is None and create:
        pid = uuid.uuid4().hex
        store.set_meta(PROJECT_KEY, pid)
    return pid


def remembered(store: Any, photo_id: int, text: str | None = _READ) -> list[Handout]:
    """The hand-out states of other projects an import stored for this photo (``text``: its meta value,
    when the caller read them all at once)."""
    if text is _READ:
        text = store.get_meta(f"{REMEMBERED_PREFIX}{photo_id}")
    if not text:
        return []
    try:
        return parse_handouts(json.loads(text), "remembered hand-out")
    except (ValueError, AnnotationError):  # an unreadable note costs the three-way merge, nothing else
        return []


def remember(store: Any, photo_id: int, states: Iterable[Handout]) -> None:
    """Keep other projects' hand-out states of a photo (the newest per project), for this project's exports."""
    states = list(states)
    if not states:
        return
    mine = project_id(store)
    by_project = {h.project: h for h in remembered(store, photo_id)}
    by_project.update((h.project, h) for h in states if h.project != mine)
    text = json.dumps([h.to_json() for h in by_project.values()], sort_keys=True)
    store.set_meta(f"{REMEMBERED_PREFIX}{photo_id}", text)  # the same text again writes nothing


def add_handout_states(store: Any, entries: list[dict]) -> None:
    """Put the ``"handout"`` list on the exported ``entries`` (``Store.to_annotations`` dicts, bibs as stored)."""
    if not entries:
        return
    mine = project_id(store, create=True)
    photos = {p.relpath: p for p in store.photos()}
    hashes = store.pixel_hashes()
    notes = store.meta_with_prefix(REMEMBERED_PREFIX)  # one read, not one per photo
    for entry in entries:
        photo = photos.get(entry["image"])
        if photo is None:
            continue
        own = Handout(mine, entry["width"], entry["height"], hashes.get(photo.id) or None, bool(entry.get("reviewed")),
                      [Bib.from_json(b) for b in entry["bibs"]])  # fmt: skip
        entry["handout"] = [own.to_json()] + [
            h.to_json() for h in remembered(store, photo.id, notes.get(f"{REMEMBERED_PREFIX}{photo.id}")) if h.project != mine]


# ---------------------------------------------------------------------------------------------- the comparison


@dataclass
class Item:
    """A bib of one side now: the bib, whether a person set it (human/MTurk, or no confidence in a file), what it came from."""

    bib: Bib
    human: bool
    origin: Any = None  # the store's BibRow


@dataclass
class Changes:
    """What one side did to a photo since the hand-out (indices are into the base's bibs)."""

    added: list[Item] = field(default_factory=list)  # bibs a person added
    deleted: list[int] = field(default_factory=list)  # base bibs gone (a prediction: only when rejected)
    changed: list[tuple[int, Item]] = field(default_factory=list)  # base bib -> another number in its place
    confirmed: list[int] = field(default_factory=list)  # base predictions a person confirmed
    moved: list[tuple[int, Item]] = field(default_factory=list)  # base bib -> same number, box moved
    kept: dict[int, Item] = field(default_factory=dict)  # base bib -> its counterpart now (confirmed/moved ones too)
    reviewed: bool | None = None  # the photo's reviewed flag, when it changed since

    @property
    def edits(self) -> bool:
        """Bibs added, deleted or renumbered (what can disagree)."""
        return bool(self.added or self.deleted or self.changed)

    @property
    def touched(self) -> bool:
        return self.edits or bool(self.confirmed or self.moved) or self.reviewed is not None

    def key(self, base: Sequence[Bib]) -> tuple[list[str], list[str]]:
        """(numbers now there that were not, numbers gone): the same key on both sides = the same edits."""
        new = sorted([i.bib.number for i in self.added] + [i.bib.number for _b, i in self.changed])
        gone = sorted([base[b].number for b in self.deleted] + [base[b].number for b, _i in self.changed])
        return new, gone

    def describe(self, base: Sequence[Bib], now: Iterable[Item]) -> str:
        """"added 1234, deleted 567, changed 12 to 13, reviewed the photo (with 12, 1234)"."""
        parts = []
        if self.added:
            parts.append(f"added {number_list(i.bib for i in self.added)}")
        if self.deleted:
            parts.append(f"deleted {number_list(base[b] for b in self.deleted)}")
        parts += [f"changed {base[b].number} to {i.bib.number}" for b, i in self.changed]
        if self.confirmed and self.reviewed is not True:  # a review confirms every bib it has
            parts.append(f"confirmed {number_list(base[b] for b in self.confirmed)}")
        if self.moved:
            parts.append(f"moved the box of {number_list(base[b] for b, _i in self.moved)}")
        if self.reviewed is True:
            parts.append(f"reviewed the photo (with {number_list(i.bib for i in now)})")
        elif self.reviewed is False:
            parts.append("marked the photo unreviewed")
        return ", ".join(parts) if parts else "changed nothing"


def number_list(items: Iterable[Any]) -> str:
    """"18, 99" (the numbers of bibs or bib rows, sorted), or "no bib"."""
    numbers = sorted((x.number for x in items), key=lambda n: (len(n), n))
    return ", ".join(numbers) if numbers else "no bib"


def same_place(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
    """Same number assumed: one of them has no box, or the boxes overlap (IoU >= SAME_BOX_IOU)."""
    return a is None or b is None or iou_boxes(a, b) >= SAME_BOX_IOU


def _moved(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
    return a is not None and b is not None and any(abs(float(x) - float(y)) > MOVE_TOLERANCE for x, y in zip(a, b))


def changes(base: Handout, now: Sequence[Item], reviewed: bool | None, rejected: set[str] | None = None) -> Changes:
    """What turned ``base`` into ``now`` (one side's bibs, all of them) and its reviewed flag.

    New predictions are no one's decision and count for nothing. A base prediction that is gone counts as
    deleted when ``rejected`` is None (a file lists every bib its photo has) or holds its number (the
    store's numbers a person deleted there); otherwise it was only replaced by other predictions.
    """
    out = Changes(reviewed=None if reviewed is None or reviewed == base.reviewed else reviewed)
    free = list(now)
    gone = []
    for b, bib in enumerate(base.bibs):
        hit = next((i for i in free if i.bib.number == bib.number and same_place(i.bib.box, bib.box)), None)
        if hit is None:
            gone.append(b)
            continue
        free.remove(hit)
        out.kept[b] = hit
        if bib.confidence is not None and hit.human:
            out.confirmed.append(b)
        if _moved(bib.box, hit.bib.box):
            out.moved.append((b, hit))
    new = [i for i in free if i.human]
    for b in gone:
        box = base.bibs[b].box
        hit = next((i for i in new if box is not None and i.bib.box is not None and iou_boxes(box, i.bib.box) >= SAME_BOX_IOU), None)
        if hit is not None:
            new.remove(hit)
            out.changed.append((b, hit))
        elif rejected is None or base.bibs[b].confidence is None or base.bibs[b].number in rejected:
            out.deleted.append(b)
    out.added = new
    return out


def conflict(base: Handout, file: Changes, file_now: Sequence[Item], here: Changes, here_now: Sequence[Item]) -> str | None:
    """Why the file's changes and yours since the hand-out cannot both stand, or None.

    They can when one side changed nothing, when both made the same edits, or when the edits of one meet
    only the other's confirmations and moved boxes of other bibs. A review since the hand-out claims the
    photo holds exactly its bibs, so it disagrees with any other edits of the other side.
    """
    if not file.touched or not here.touched or file.key(base.bibs) == here.key(base.bibs):
        return None
    gone_file = set(file.deleted) | {b for b, _i in file.changed}
    gone_here = set(here.deleted) | {b for b, _i in here.changed}
    held_file = set(file.confirmed) | {b for b, _i in file.moved}
    held_here = set(here.confirmed) | {b for b, _i in here.moved}
    if (
        (file.edits and here.edits)
        or (file.edits and here.reviewed is True)
        or (here.edits and file.reviewed is True)
        or gone_file & held_here
        or gone_here & held_file
    ):
        return f"you {here.describe(base.bibs, here_now)} after the hand-out; the volunteer {file.describe(base.bibs, file_now)}"
    return None
