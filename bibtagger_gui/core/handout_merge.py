"""The import's three-way merge of one photo, bib by bib (docs/volunteers.md#the-merge-bib-by-bib).

Three versions of a photo: the hand-out state (*base*, core/handout.py), the file's entry (*theirs*: what the
volunteer made of it) and the photo in this project now (*ours*). :func:`side` matches each version's bibs
to the base's (:func:`match`) and says what that side did to every base bib (a :class:`Fate`) and which bibs
it added; :func:`merge` puts both sides together: a bib changed on one side takes that change, the same
change on both sides is none, and a bib changed differently on both sides (or two bibs added in one place)
is a conflict that leaves it as ours. The photo's reviewed flag follows (:func:`merge`'s docstring). Pure:
no store; core/importers.py applies the :class:`Step` list to the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

from bibtagger_gui.core.annotations import Handout
from bibtagger_gui.core.bib import Bib, iou, numbers_said

#: ends a conflict the import left as the project has it: how the command line takes the file's version instead
#: (the window's conflicts list leaves it out: its button does that, gui/import_action.py)
OVERWRITE_HINT = " (--overwrite takes the file's)"

SAME_BOX_IOU = 0.5  # same number and this overlap (or a missing box): the same bib; another number here: renumbered
MOVE_TOLERANCE = 1.0  # px: a box that moved less is not a change (boxes are rounded when files are scaled)

# What one side did to a base bib.
KEEP = "keep"  # there as it was (a prediction still a prediction, a box within MOVE_TOLERANCE)
HOLD = "hold"  # there, and a person said so: confirmed, box moved, or the photo reviewed since
CHANGE = "change"  # another number in its place (a person's)
DELETE = "delete"  # gone (a prediction: only when a person deleted it)
GONE = "gone"  # a prediction replaced by other predictions here (a re-run): nobody's decision


@dataclass
class Item:
    """A bib of one side now: the bib, whether a person set it (human/MTurk, or no confidence in a file), what it came from."""

    bib: Bib
    human: bool
    origin: Any = None  # the store's BibRow


@dataclass
class Fate:
    """What one side did to one base bib, with its counterpart there (None: DELETE, GONE)."""

    kind: str
    item: Item | None = None
    confirmed: bool = False  # a base prediction a person confirmed
    moved: bool = False  # a person moved (or drew) its box
    reviewed: bool = False  # held by a review of the photo since the hand-out


@dataclass
class Side:
    """One side's photo compared with the base: a fate per base bib, the bibs a person added, the reviewed flag."""

    base: Handout
    now: list[Item]
    fates: list[Fate]
    added: list[Item] = field(default_factory=list)
    reviewed: bool | None = None  # the flag, when it changed since the hand-out
    predicted: list[Item] = field(default_factory=list)  # new predictions (matching no base bib): counted for nothing

    @property
    def flag(self) -> bool:
        """The photo's reviewed flag on this side."""
        return self.base.reviewed if self.reviewed is None else self.reviewed

    @property
    def touched(self) -> bool:
        return bool(self.added) or self.reviewed is not None or any(f.kind not in (KEEP, GONE) for f in self.fates)

    def describe(self) -> str:
        """Everything this side did: "added 1234, deleted 567, changed 12 to 13, reviewed the photo (with 12, 1234)"."""
        parts = [f"added {number_list(i.bib for i in self.added)}"] if self.added else []
        parts += [p for b in range(len(self.fates)) for p in self.bib_parts(b) if not p.startswith("reviewed ")]
        if self.reviewed is True:
            parts.append(self.review_text())
        elif self.reviewed is False:
            parts.append("marked the photo unreviewed")
        return ", ".join(_unique(parts)) if parts else "changed nothing"

    def bib_parts(self, b: int) -> list[str]:
        """What this side did to base bib ``b``, in words ([] for KEEP and GONE)."""
        f, number = self.fates[b], self.base.bibs[b].number
        if f.kind == DELETE:
            return [f"deleted {number}"]
        if f.kind == CHANGE:
            return [f"changed {number} to {f.item.bib.number}"]
        if f.kind != HOLD:
            return []
        parts = [f"moved the box of {number}"] if f.moved else []
        if f.reviewed:
            parts.append(self.review_text())
        elif f.confirmed and not f.moved:
            parts.append(f"confirmed {number}")
        return parts

    def review_text(self) -> str:
        return f"reviewed the photo (with {number_list(i.bib for i in self.now)})"


@dataclass
class Step:
    """One change the merge makes to our photo: ``delete``/``update``/``confirm``/``move`` our ``row``
    (an :class:`Item` of ours), or ``add`` ``bib`` as a human bib."""

    kind: str
    row: Item | None = None
    bib: Bib | None = None
    base: int | None = None  # the base bib it comes from (None: a bib the file added)


@dataclass
class Merge:
    """The merge of one photo: the steps to take, the conflicts (ours, theirs: one per bib), the result."""

    steps: list[Step]
    conflicts: list[tuple[str, str]]
    bibs: list[Item]  # our photo's bibs after the steps
    reviewed: bool  # its reviewed flag after the merge
    file_review: bool  # the file's review is the one taken: predictions it lacks go (those in ``spare``)
    spare: list[Item]  # our predictions nobody decided on that the file's review does not have
    withheld: str | None  # why a review (of the file, or ours) is not kept on the merged photo, or None

    def why(self, since: str = "after the hand-out") -> str | None:
        """The conflict line: "you changed 12 to 13 after the hand-out; the volunteer deleted 12: left as it is ..."
        (``since``: what the base is, e.g. "over the volunteer's earlier file A1.json")."""
        if not self.conflicts:
            return None
        ours = ", ".join(_unique(o for o, _t in self.conflicts))
        theirs = ", ".join(_unique(t for _o, t in self.conflicts))
        if not self.steps:
            rest = "left as it is"
        elif len(self.conflicts) == 1:
            rest = "that bib left as you have it, the rest merged"
        else:
            rest = "those bibs left as you have them, the rest merged"
        return f"you {ours} {since}; the volunteer {theirs}: {rest}{OVERWRITE_HINT}"


def number_list(items: Iterable[Any]) -> str:
    """"18, 99" (the numbers of bibs or bib rows, sorted), or "no bib"."""
    return numbers_said(x.number for x in items)


def _unique(parts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(parts))


def overlap(a: Sequence[float] | None, b: Sequence[float] | None) -> float:
    """IoU of two boxes; 1 for boxes equal within MOVE_TOLERANCE (a zero-area box too), 0 when either is missing."""
    if a is None or b is None:
        return 0.0
    if not box_moved(a, b):
        return 1.0
    return iou(a, b)


def same_place(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
    """Same number assumed: one of them has no box, or the boxes overlap (IoU >= SAME_BOX_IOU)."""
    return a is None or b is None or overlap(a, b) >= SAME_BOX_IOU


def box_moved(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
    """``b`` is another box than ``a``: moved by more than MOVE_TOLERANCE, or drawn where there was none.
    (No box in ``b`` says nothing: a box is never removed.)"""
    if b is None:
        return False
    return a is None or any(abs(float(x) - float(y)) > MOVE_TOLERANCE for x, y in zip(a, b))


# The matching rules, most certain first; each pairs what the earlier ones left.
_RULES: list[tuple[str, Callable[[Bib, Bib, float], bool]]] = [
    ("same", lambda a, b, iou: a.number == b.number and iou >= SAME_BOX_IOU),
    ("nudged", lambda a, b, iou: a.number == b.number and iou > 0.0),
    ("unboxed", lambda a, b, iou: a.number == b.number and (a.box is None or b.box is None)),
    ("renumbered", lambda a, b, iou: a.number != b.number and iou >= SAME_BOX_IOU),
]


def match(base: Sequence[Bib], now: Sequence[Bib], renumber: Callable[[int], bool] = lambda n: True) -> dict[int, tuple[int, str]]:
    """Pair bibs of two versions of a photo: base index -> (now index, rule), each bib in at most one pair.

    The rules, in turn, each over the bibs the earlier ones left unpaired: ``same`` (same number, boxes
    overlapping IoU >= SAME_BOX_IOU), ``nudged`` (same number, boxes overlapping at all), ``unboxed`` (same
    number, one of them or both without a box), ``renumbered`` (another number on a box overlapping
    >= SAME_BOX_IOU; only for the ``now`` bibs ``renumber`` allows: a person's reading). Within a rule the pairs
    are taken greedily by overlap, largest first, ties by base order then ``now`` order: the same input always
    gives the same pairs. Numbers compare as stored (exact strings).
    """
    pairs: dict[int, tuple[int, str]] = {}
    used: set[int] = set()
    for rule, fits in _RULES:
        cands = []
        for b, old in enumerate(base):
            if b in pairs:
                continue
            for n, new in enumerate(now):
                if n in used or (rule == "renumbered" and not renumber(n)):
                    continue
                iou = overlap(old.box, new.box)
                if fits(old, new, iou):
                    cands.append((-iou, b, n))
        for _neg, b, n in sorted(cands):
            if b not in pairs and n not in used:
                pairs[b] = (n, rule)
                used.add(n)
    return pairs


def differing(a: Sequence[Bib], b: Sequence[Bib]) -> int:
    """How many bibs two versions of a photo hold otherwise: a bib of ``a`` that ``b`` has renumbered, without
    it, with its box moved or as a prediction where the other is a person's (or the other way round), and a bib
    of ``b`` that ``a`` lacks (the pairs of :func:`match`)."""
    pairs = match(a, b)
    same = sum(rule != "renumbered" and not box_moved(a[i].box, b[n].box) and
               (a[i].confidence is None) == (b[n].confidence is None) for i, (n, rule) in pairs.items())  # fmt: skip
    return len(a) - same + len(b) - len(pairs)


def side(base: Handout, now: Sequence[Item], reviewed: bool | None, rejected: set[str] | None = None) -> Side:
    """What turned ``base`` into ``now`` (one side's bibs, all of them) with its reviewed flag.

    New predictions are nobody's decision and count for nothing. A base prediction that is gone counts as
    deleted when ``rejected`` is None (a file lists every bib its photo has) or holds its number (the store's
    numbers a person deleted there); otherwise it was only replaced by other predictions (GONE). A review since
    the hand-out holds every bib the photo kept: the reviewer said it is there.
    """
    now = list(now)
    flag = None if reviewed is None or reviewed == base.reviewed else reviewed
    review = flag is True
    pairs = match(base.bibs, [i.bib for i in now], renumber=lambda n: now[n].human)
    fates = []
    for b, bib in enumerate(base.bibs):
        if b not in pairs:
            gone = rejected is not None and bib.confidence is not None and bib.number not in rejected
            fates.append(Fate(GONE if gone else DELETE))
            continue
        n, rule = pairs[b]
        item = now[n]
        if rule == "renumbered":
            fates.append(Fate(CHANGE, item))
            continue
        confirmed = bib.confidence is not None and item.human
        moved = item.human and box_moved(bib.box, item.bib.box)
        held = confirmed or moved or review
        fates.append(Fate(HOLD if held else KEEP, item, confirmed, moved, review))
    taken = {n for n, _r in pairs.values()}
    added = [i for n, i in enumerate(now) if n not in taken and i.human]
    predicted = [i for n, i in enumerate(now) if n not in taken and not i.human]
    return Side(base, now, fates, added, flag, predicted)


def _human(item: Item, number: str | None = None, box: Any = None) -> Item:
    bib = item.bib
    return Item(Bib(number or bib.number, box if box is not None else bib.box, None), True, item.origin)


def _same_bibs(a: Sequence[Item], b: Sequence[Bib], spare_predictions: bool) -> tuple[bool, list[Item]]:
    """(Whether ``a`` holds the bibs ``b``: same numbers on the same bibs, one for one, and nothing else -- or
    else only predictions, with ``spare_predictions`` --, the items of ``a`` left over). The same bib as in
    :func:`match` (its rules but the renumber): a box nudged (overlapping at all) or missing on one side is the
    number its reviewer saw."""
    pairs = match(b, [i.bib for i in a], renumber=lambda _n: False)
    paired = {n for n, _rule in pairs.values()}
    left = [item for n, item in enumerate(a) if n not in paired]
    ok = len(pairs) == len(b) and all(spare_predictions and not i.human for i in left)
    return ok, left


def merge(file: Side, here: Side) -> Merge:
    """Put the file's changes since the hand-out and ours together, bib by bib.

    For each base bib: unchanged on one side (KEEP, or GONE here) takes the other side's fate; the same fate on
    both (both deleted, both renumbered alike, both held) is no conflict (where both moved its box, ours stays);
    anything else (changed differently, or changed/held on one side and deleted on the other, or held on one and
    renumbered on the other) is a conflict and the bib stays as ours. Bibs both sides added are matched like
    the base's (:func:`match`): the same bib added twice is one, two numbers added in one place are a conflict,
    and the file's other additions are added.

    A base bib one side deleted while adding the number the other side renumbered it to, on a box overlapping
    that side's at all (or without a box), is read as that renumber (:func:`_redrawn`): the same change.

    The reviewed flag: the side that changed it since the hand-out says (the file, where both did), else it
    stays as ours -- but the merged photo is reviewed only if a reviewer saw exactly its bibs: the file's review
    when its bibs are the merged ones (our predictions nobody decided on, which the review lacks, then go), or
    ours when the merge changed none of our bibs. Otherwise it is left unreviewed (``withheld`` says why): a
    photo is never marked reviewed with a bib its reviewer did not see.
    """
    file, here = _redrawn(file, here), _redrawn(here, file)
    steps: list[Step] = []
    conflicts: list[tuple[str, str]] = []
    for b, (f, h) in enumerate(zip(file.fates, here.fates)):
        if f.kind in (KEEP, GONE):
            continue
        row = h.item
        if h.kind in (KEEP, GONE):
            if f.kind == DELETE:
                if row is not None:
                    steps.append(Step("delete", row, base=b))
            elif row is None:  # ours was replaced by other predictions: the file's person decided
                steps.append(Step("add", bib=Bib(f.item.bib.number, f.item.bib.box, None), base=b))
            elif f.kind == CHANGE:
                box = f.item.bib.box if f.item.bib.box is not None else row.bib.box
                steps.append(Step("update", row, Bib(f.item.bib.number, box), base=b))
            else:
                steps += _hold(f, row, b, moved=f.moved)
            continue
        if f.kind == h.kind == DELETE:
            continue
        if f.kind == h.kind == CHANGE and f.item.bib.number == row.bib.number:
            continue
        if f.kind == h.kind == HOLD:
            steps += _hold(f, row, b, moved=f.moved and not h.moved)  # where both moved it, our box stays
            continue
        conflicts.append((", ".join(here.bib_parts(b)), ", ".join(file.bib_parts(b))))
    pairs = match([i.bib for i in here.added], [i.bib for i in file.added])
    for a, (n, rule) in sorted(pairs.items()):
        if rule == "renumbered":
            conflicts.append((f"added {here.added[a].bib.number}", f"added {file.added[n].bib.number} in the same place"))
    taken = {n for n, _r in pairs.values()}
    steps += [Step("add", bib=Bib(i.bib.number, i.bib.box, None)) for n, i in enumerate(file.added) if n not in taken]

    bibs = _apply(here.now, steps)
    flag = file.reviewed if file.reviewed is not None else here.flag
    file_bibs = [i.bib for i in file.now]
    file_ok, spare = _same_bibs(bibs, file_bibs, spare_predictions=True)
    file_review = flag and file.flag and file_ok and not conflicts
    ours = flag and here.flag and _same_bibs(bibs, [i.bib for i in here.now], spare_predictions=False)[0]
    withheld = None
    if flag and not (file_review or ours):
        who = [f"the volunteer reviewed it with {number_list(file_bibs)}"] if file.flag else []
        who += [f"you reviewed it with {number_list(i.bib for i in here.now)}"] if here.flag else []
        withheld = f"left unreviewed: {' and '.join(who)}, not with the merged {number_list(i.bib for i in bibs)}"
    return Merge(steps, conflicts, bibs, bool(file_review or ours), bool(file_review), spare if file_review else [], withheld)


def _redrawn(one: Side, other: Side) -> Side:
    """``one`` with each base bib it deleted and drew anew read as renumbered: a bib ``one`` added that pairs
    (:func:`match`: same number, overlapping or unboxed) with the number ``other`` renumbered that bib to.
    Without this, a renumber on one side and a delete-and-draw on the other (a box overlapping the old one by
    less than SAME_BOX_IOU) put the number on the photo twice."""
    gone = [b for b, (f, o) in enumerate(zip(one.fates, other.fates)) if f.kind == DELETE and o.kind == CHANGE]
    if not gone or not one.added:
        return one
    pairs = match([other.fates[b].item.bib for b in gone], [i.bib for i in one.added], renumber=lambda n: False)
    if not pairs:
        return one
    fates = list(one.fates)
    for g, (n, _rule) in pairs.items():
        fates[gone[g]] = Fate(CHANGE, one.added[n])
    taken = {n for n, _rule in pairs.values()}
    return replace(one, fates=fates, added=[i for n, i in enumerate(one.added) if n not in taken])


def _hold(f: Fate, row: Item, b: int, moved: bool) -> list[Step]:
    """The file's person held base bib ``b``, which is ``row`` here: its box where they moved it, a confirmation."""
    if moved:
        return [Step("move", row, Bib(row.bib.number, f.item.bib.box), base=b)]
    if f.item.human and not row.human:
        return [Step("confirm", row, base=b)]
    return []


def _apply(now: Sequence[Item], steps: Sequence[Step]) -> list[Item]:
    """Our bibs after ``steps``, as core/importers.py leaves them in the store."""
    out = list(now)

    def at(item: Item) -> int:
        return next(k for k, i in enumerate(out) if i is item)

    for s in steps:
        if s.kind == "delete":
            del out[at(s.row)]
        elif s.kind in ("update", "move", "confirm"):
            bib = s.bib or s.row.bib
            out[at(s.row)] = _human(s.row, bib.number, bib.box)
        else:  # add, as importers._add_human: a person's bib of its number in its place is there already
            same = [i for i in out if i.bib.number == s.bib.number and same_place(i.bib.box, s.bib.box)]
            if any(i.human for i in same):
                continue
            if same:
                out[at(same[0])] = _human(same[0], box=s.bib.box)
            else:
                out.append(Item(s.bib, True))
    return out
