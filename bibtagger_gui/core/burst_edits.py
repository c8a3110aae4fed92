"""The review's burst tools (Qt-free): what Copy Bibs from Previous Photo and Apply This Fix to the Burst
change, and their edit of one photo (run by gui/burst_action.py inside one store transaction, one undo step).

- **Copy**: the previous photo's bibs become human bibs of the current one. A number the current photo
  already has (same ``number_key``: "0891" is "891") is confirmed (human), not added again; where a person's
  bib has it, that is the one, and a prediction of the number beside it stays a prediction. A copied bib
  keeps the previous photo's box only when both photos are frames of one burst (core/bursts.py) *and*
  have the same pixel size; otherwise it is copied without a box (``box`` null in the exchange format),
  because a box from another framing or another moment would point at the wrong pixels. A copied bib
  whose carried box lies on a *model* bib of the current photo reading another number (IoU >=
  :data:`SAME_PLATE_IOU`, a number the previous photo does not have) retypes that bib instead: the same
  plate, misread here; it keeps this frame's own box.
- **Burst fix**: a model reading ``old`` that the user retyped as ``new`` on one photo is retyped the
  same way on the other frames of its burst that are *unreviewed* and whose *model* bib reads exactly
  ``old``; reviewed photos and people's bibs are never touched. docs/bursts.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from bibtagger_gui.core.bib import iou, number_key

Box = tuple[float, float, float, float]

#: a copied box overlapping a model bib of the current frame at least this much is on the same plate (a runner
#: moves by less than half a plate's width between frames of a burst; the demo's bursts overlap by more)
SAME_PLATE_IOU = 0.3


# ---------------------------------------------------------------- copy from the previous photo


def boxes_carry(prev_photo: Any, photo: Any, in_one_burst: bool) -> tuple[bool, str]:
    """Whether copied bibs keep their boxes, and why not (for the status bar) when they do not."""
    size = (prev_photo.width, prev_photo.height)
    if not in_one_burst:
        return False, "not the same burst"
    if None in size or size != (photo.width, photo.height):
        return False, "another pixel size"
    return True, ""


@dataclass(frozen=True)
class CopyPlan:
    """What a copy does to the current photo: bibs to add (number, box or None), bibs of its own to
    confirm (id, box to give a boxless one or None), numbers it already has as a person's bib, and its
    model bibs on a copied bib's plate that read another number (id, its reading, the copied number)."""

    add: tuple[tuple[str, Box | None], ...]
    confirm: tuple[tuple[int, Box | None], ...]
    had: tuple[str, ...]
    boxes: bool
    why_no_boxes: str = ""
    retype: tuple[tuple[int, str, str], ...] = ()

    @property
    def changes(self) -> bool:
        return bool(self.add or self.confirm or self.retype)


def plan_copy(prev_bibs: Sequence[Any], bibs: Sequence[Any], boxes: bool, why_no_boxes: str = "") -> CopyPlan:
    """The copy of ``prev_bibs`` (BibRow-like: number, box) onto a photo holding ``bibs`` (id, number, box,
    source). Each number of the previous photo is copied once."""
    own = {}
    for b in sorted(bibs, key=lambda b: b.source != "human"):  # a person's bib of the number first: it is there
        own.setdefault(number_key(b.number), b)
    add: list[tuple[str, Box | None]] = []
    confirm: list[tuple[int, Box | None]] = []
    had: list[str] = []
    seen: set[str] = set()
    for b in prev_bibs:
        key = number_key(b.number)
        if key in seen:
            continue
        seen.add(key)
        box = tuple(b.box) if boxes and b.box is not None else None
        mine = own.get(key)
        if mine is None:
            add.append((b.number, box))  # type: ignore[arg-type]
        elif mine.source != "human" or (mine.box is None and box is not None):
            confirm.append((mine.id, box if mine.box is None else None))  # type: ignore[arg-type]
        else:
            had.append(mine.number)
    # a copied bib landing on a model bib of this frame that reads a number the previous photo lacks: that plate
    # misread here; retype it (its own box) rather than add a second box on it. Best overlaps first.
    copied = {number_key(b.number) for b in prev_bibs}
    misread = [b for b in bibs if b.source == "model" and b.box is not None and number_key(b.number) not in copied]
    pairs = sorted(((iou(box, m.box), i, j) for i, (_n, box) in enumerate(add) if box is not None
                    for j, m in enumerate(misread)), reverse=True)  # fmt: skip
    retype: list[tuple[int, str, str]] = []
    used_add: set[int] = set()
    used_own: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < SAME_PLATE_IOU or i in used_add or j in used_own:
            continue
        used_add.add(i)
        used_own.add(j)
        retype.append((misread[j].id, misread[j].number, add[i][0]))
    add = [a for i, a in enumerate(add) if i not in used_add]
    return CopyPlan(tuple(add), tuple(confirm), tuple(had), boxes, why_no_boxes, tuple(retype))


def copy_bibs(store: Any, photo_id: int, plan: CopyPlan) -> None:
    """Write ``plan`` to ``photo_id`` (inside the caller's transaction): new human bibs, confirmed ones."""
    for number, box in plan.add:
        store.add_bib(photo_id, number, box, source="human")
    for bib_id, _old, number in plan.retype:
        store.update_bib(bib_id, number=number)
    for bib_id, box in plan.confirm:
        if box is None:
            store.update_bib(bib_id)  # no change but the source: a person's bib now
        else:
            store.update_bib(bib_id, box=box)


# ---------------------------------------------------------------- a fix applied to the burst


@dataclass(frozen=True)
class FixPlan:
    """The frames a burst fix changes, ``(photo_id, bib_id)`` in burst order, and the frames with a bib
    reading ``old`` that it leaves alone, ``(photo_id, why)``."""

    old: str
    new: str
    todo: tuple[tuple[int, int], ...]
    skipped: tuple[tuple[int, str], ...] = ()


def fix_target(item: Any, old: str, new: str) -> tuple[int | None, str | None]:
    """The model bib of ``item`` (a ReviewItem: photo, bibs) that a fix ``old`` -> ``new`` retypes, or None
    and why it is left alone (None when the photo has no bib reading ``old`` at all)."""
    reading = [b for b in item.bibs if b.number == old]
    if not reading:
        return None, None
    model = [b for b in reading if b.source == "model"]
    if item.photo.reviewed:
        return None, "reviewed"
    if not model:
        return None, f"{old} is a person's bib there"
    if len(model) > 1:
        return None, f"{old} read twice there"
    if any(number_key(b.number) == number_key(new) for b in item.bibs):
        return None, f"already has {new}"
    return model[0].id, None


def plan_fix(items: Sequence[Any], fixed_photo_id: int, old: str, new: str) -> FixPlan:
    """Which of ``items`` (the burst's frames, fresh ReviewItems) the fix changes; the fixed photo is left out."""
    todo: list[tuple[int, int]] = []
    skipped: list[tuple[int, str]] = []
    for item in items:
        if item.photo.id == fixed_photo_id:
            continue
        bib_id, why = fix_target(item, old, new)
        if bib_id is not None:
            todo.append((item.photo.id, bib_id))
        elif why is not None:
            skipped.append((item.photo.id, why))
    return FixPlan(old, new, tuple(todo), tuple(skipped))


def retype_reading(store: Any, photo_id: int, bib_id: int, old: str, new: str) -> bool:
    """One frame's part of a burst fix: bib ``bib_id`` becomes ``new`` (a person's bib, box kept), if it is
    still a model bib reading ``old`` on an unreviewed photo without ``new`` (checked in the write's own
    transaction: another program may have changed it since the plan). False when it was left alone."""
    with store.transaction():
        if store.photo(photo_id).reviewed:
            return False
        rows = store.bibs(photo_id)
        row = next((r for r in rows if r.id == bib_id), None)
        if row is None or row.source != "model" or row.number != old:
            return False
        if any(number_key(r.number) == number_key(new) for r in rows):
            return False
        store.update_bib(bib_id, number=new)
    return True
