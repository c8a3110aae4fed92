"""Review queue rules (Qt-free): ordering, filters, search, conflicts, what to (re)recognize.

The GUI shows photos in *queue order* by default: unreviewed photos first, and among them the
least confident first, so that the reviewer spends keystrokes where the model is
most likely wrong. Photos whose file could not be read come after the readable ones
of the same review state. The list can also go by capture time or file name
(core/list_order.py, :func:`order_key`). All rules live here so that they are unit-tested without Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Callable, Iterable, Mapping, Sequence

from bibtagger_gui.core.bib import clean_number, number_matches
from bibtagger_gui.core.list_order import ListOrder, capture_key, name_key

#: Bibs below this confidence make a photo "low confidence". Confidences are calibrated
#: probabilities (core.calibration): on the dev train split this flags 15 of 161 kept readings
#: and 6 of their 7 wrong ones (val: 8 of 38, and the 1 wrong one).
LOW_CONFIDENCE = 0.9


class ReviewFilter(str, Enum):
    """The filters of the review list (values are stable names for settings/CLI)."""

    ALL = "all"
    UNREVIEWED = "unreviewed"
    NO_BIB = "no-bib"
    LOW_CONFIDENCE = "low-confidence"
    REVIEWED = "reviewed"
    CONFLICTS = "conflicts"
    UNREADABLE = "unreadable"

    @property
    def label(self) -> str:
        return {
            "all": "All photos",
            "unreviewed": "Unreviewed",
            "no-bib": "No bib found",
            "low-confidence": "Low confidence",
            "reviewed": "Reviewed",
            "conflicts": "Conflicts",
            "unreadable": "Unreadable",
        }[self.value]

    @property
    def description(self) -> str:
        """What the filter shows, in a sentence (the menu's status tip, the filter box's tooltip)."""
        return {
            "all": "Show every photo of the folder",
            "unreviewed": "Show the photos not accepted yet",
            "no-bib": "Show the photos with no bib found or typed",
            "low-confidence": f"Show the photos with a model bib under {LOW_CONFIDENCE:.2f} confidence",
            "reviewed": "Show the accepted photos",
            "conflicts": "Show the photos whose model bibs and people's bibs disagree",
            "unreadable": "Show the photos whose file could not be read (why: in their tooltip)",
        }[self.value]


class _once:
    """``functools.cached_property`` without its lock: CPython 3.11's takes one on each first access, and opening
    10,000 photos asks each snapshot's confidence once (~2 µs a lock, docs/benchmarks.md#app). Worked out on the first
    access and kept in the instance's ``__dict__``, which later reads find before this descriptor."""

    def __init__(self, func: Callable[[Any], Any]):
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


@dataclass(frozen=True)
class ReviewItem:
    """One photo with its bibs, as the review list needs it (no image data)."""

    photo: Any  # core.store.Photo (duck-typed: id, relpath, reviewed, error)
    bibs: tuple[Any, ...] = field(default_factory=tuple)  # core.store.BibRow

    @property
    def photo_id(self) -> int:
        return self.photo.id

    @property
    def numbers(self) -> list[str]:
        return [b.number for b in self.bibs]

    @_once  # a snapshot: its bibs never change; sorting 10,000 asks each item many times
    def confidence(self) -> float:
        return photo_confidence(self.bibs)

    @_once
    def conflict(self) -> bool:
        return is_conflict(self.bibs)


def photo_confidence(bibs: Sequence[Any]) -> float:
    """How sure we are that the photo's bibs are right, for queue ordering.

    The lowest confidence among model bibs; 1.0 when every bib is human/mturk
    (people already looked at it); 0.0 when the photo has no bib at all (nothing
    found is the least trustworthy answer).
    """
    if not bibs:
        return 0.0
    model = [b.confidence for b in bibs if b.source == "model"]
    if not model:
        return 1.0
    return min(float(c) if c is not None else 0.0 for c in model)


def _norm(number: str) -> str:
    return clean_number(number)  # exact digits (a dropped zero is a conflict), spaces and case aside


def is_conflict(bibs: Sequence[Any]) -> bool:
    """True when a photo has model bibs *and* human/mturk bibs and their numbers differ."""
    model = {_norm(b.number) for b in bibs if b.source == "model"}
    people = {_norm(b.number) for b in bibs if b.source != "model"}
    return bool(model) and bool(people) and model != people


def matches(item: ReviewItem, flt: ReviewFilter, low: float = LOW_CONFIDENCE) -> bool:
    """Whether ``item`` belongs in the list under filter ``flt``."""
    flt = ReviewFilter(flt)
    if flt is ReviewFilter.ALL:
        return True
    if flt is ReviewFilter.UNREVIEWED:
        return not item.photo.reviewed
    if flt is ReviewFilter.REVIEWED:
        return bool(item.photo.reviewed)
    if flt is ReviewFilter.NO_BIB:
        return not item.bibs and not item.photo.error
    if flt is ReviewFilter.LOW_CONFIDENCE:
        return any(b.source == "model" and (b.confidence or 0.0) < low for b in item.bibs)
    if flt is ReviewFilter.CONFLICTS:
        return item.conflict
    if flt is ReviewFilter.UNREADABLE:  # its file could not be read (at the scan or by the recognizer): Enter skips it
        return item.photo.error is not None
    raise ValueError(flt)  # pragma: no cover


def matches_search(item: ReviewItem, text: str) -> bool:
    """Search: the photo has a bib that is the number ``text`` (``core.bib.number_matches``:
    case-insensitive, spaces and leading zeros aside, so "891" finds 0891 and "0891" finds 891).

    A trailing ``*`` makes it a prefix search ("12*" finds 12, 120, 1234). Empty
    text matches everything.
    """
    number, prefix = search_query(text)
    if not number and not prefix:
        return True
    return any(number_matches(n, number, prefix=prefix) for n in item.numbers)


def search_query(text: str) -> tuple[str, bool]:
    """The number a search looks for and whether it is a prefix, as the search box (``ReviewIndex.matching``,
    :func:`matches_search`) and `bibtagger find` read it: ``core.bib.clean_number`` (spaces dropped: a pasted
    " 12 " is 12, upper case), a trailing ``*`` a prefix."""
    number = clean_number(text)
    return (number[:-1], True) if number.endswith("*") else (number, False)


def sort_key(item: ReviewItem) -> tuple:
    """Queue order: unreviewed first, readable before errors, least confident first."""
    return (bool(item.photo.reviewed), item.photo.error is not None, item.confidence, item.photo.relpath)


def order_key(item: ReviewItem, order: ListOrder = ListOrder.QUEUE) -> tuple:
    """Sort key of ``item`` in the list order ``order`` (core/list_order.py): the queue's :func:`sort_key`, or
    one that depends only on the photo's file (capture time, file name), never on its review state or bibs."""
    if order is ListOrder.QUEUE:
        return sort_key(item)
    if order is ListOrder.CAPTURE:
        return capture_key(item.photo)
    if order is ListOrder.NAME:
        return name_key(item.photo.relpath)
    raise ValueError(order)  # pragma: no cover


def build_queue(
    items: Iterable[ReviewItem],
    flt: ReviewFilter = ReviewFilter.ALL,
    search: str = "",
    low: float = LOW_CONFIDENCE,
    order: ListOrder = ListOrder.QUEUE,
) -> list[ReviewItem]:
    """Filter, search and order ``items`` into the list: the review queue, or another ``order``."""
    flt, order = ReviewFilter(flt), ListOrder(order)
    every = flt is ReviewFilter.ALL  # the usual case: no per-item filter call
    chosen = [it for it in items if (every or matches(it, flt, low)) and matches_search(it, search)]
    chosen.sort(key=sort_key if order is ListOrder.QUEUE else lambda it: order_key(it, order))
    return chosen


def unreadable_unreviewed(queue: Sequence[ReviewItem]) -> int:
    """How many photos of ``queue`` :func:`next_unreviewed` passes over: unreviewed, their file could not be read."""
    return sum(1 for it in queue if it.photo.error is not None and not it.photo.reviewed)


def next_unreviewed(queue: Sequence[ReviewItem], current: int, reviewed: Mapping[int, bool] | None = None) -> int | None:
    """Index of the next unreviewed item after ``current``, wrapping around; None if all reviewed.

    ``reviewed`` overrides the snapshot's flag by photo id (the queue is a snapshot;
    photos accepted since it was built are reported here).
    """
    n = len(queue)
    if n == 0:
        return None
    reviewed = reviewed or {}
    for step in range(1, n + 1):
        i = (current + step) % n
        it = queue[i]
        if not reviewed.get(it.photo_id, bool(it.photo.reviewed)) and it.photo.error is None:
            return i
    return None


def load_items(store: Any) -> list[ReviewItem]:
    """Read every photo with its bibs from ``store`` (two queries)."""
    photos = store.photos()
    by_photo = store.all_bibs()
    return [ReviewItem(p, tuple(by_photo.get(p.id, ()))) for p in photos]


def item_for(store: Any, photo_id: int) -> ReviewItem:
    """A fresh snapshot of one photo."""
    return ReviewItem(store.photo(photo_id), tuple(store.bibs(photo_id)))


def item_after(item: ReviewItem, bibs: Sequence[Any], reviewed: bool, model_version: str | None) -> ReviewItem:
    """``item``'s photo with these bibs (in id order), review mark and model version, as :func:`item_for` reads it
    once the store holds them (its ``bib_count`` and ``min_confidence`` follow the bibs, as ``Store.photo``'s query
    makes them): the snapshot of a photo an undo or redo of a re-run wrote, without reading it again."""
    confidences = [b.confidence for b in bibs if b.confidence is not None]
    photo = _replaced(item.photo, reviewed=bool(reviewed), model_version=model_version, bib_count=len(bibs),
                      min_confidence=min(confidences) if confidences else None)  # fmt: skip
    return ReviewItem(photo, tuple(bibs))


def _replaced(photo: Any, **changes: Any) -> Any:
    """``dataclasses.replace(photo, **changes)`` of a frozen ``Photo``, its fields copied rather than passed through
    ``__init__`` again: a fifth of the time, which the undo of a re-run pays 10,000 times while the user waits."""
    if not hasattr(photo, "__dict__"):
        return replace(photo, **changes)
    new = object.__new__(type(photo))
    new.__dict__.update(photo.__dict__, **changes)
    return new


def needs_recognition(photo: Any) -> bool:
    """Photos the app recognizes by itself on opening: never recognized, unreviewed, readable."""
    return photo.model_version is None and not photo.reviewed and photo.error is None


def rerun_candidates(photos: Iterable[Any]) -> list[int]:
    """Photo ids for "Re-run on unreviewed photos" (reviewed photos are never touched)."""
    return [p.id for p in photos if not p.reviewed]
