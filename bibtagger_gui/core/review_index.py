"""The window's photo snapshots kept in list order and indexed by bib number (Qt-free).

``core.review.build_queue`` filters every snapshot, then sorts what is left: over 10,000 photos that
is ~15-25 ms a search keystroke, spent again on every key. :class:`ReviewIndex` holds the same
snapshots (a mapping photo id -> :class:`~bibtagger_gui.core.review.ReviewItem`, as the window's
``items`` dict was) but keeps them sorted by the key of the list's order
(:func:`~bibtagger_gui.core.review.order_key`: the review queue, capture time or file name,
core/list_order.py) as they are replaced, and keeps which photos carry each number key and each written
number. A search is then a dict lookup (exact number) or a walk over the distinct numbers (prefix), and
the list is the sorted order filtered by it: :meth:`ReviewIndex.queue` returns exactly what
``build_queue`` would over the same snapshots in the same order (tests/test_review_index.py compares them
on random shoots, queries and orders). A replaced snapshot moves by bisection, and only when its key
changed (in capture and file-name order an edit or an accept never changes it); another order
(:meth:`ReviewIndex.set_order`) sorts once. Ties in a key (two photos with one relpath, which a store
never holds) go by photo id.
It keeps the status bar's counts of its snapshots (:meth:`ReviewIndex.counts`, ``Store.counts`` without the
query: 4-8 ms over 10,000 photos for each edit, a burst key's largest part). It also keeps the snapshots'
:class:`~bibtagger_gui.core.bursts.Timeline` (capture order and bursts), built
when first asked for and again only after a photo came, went, or changed its name or capture time: the burst
tools ask on a key press (docs/bursts.md#cost). A new index of the same photos, read again from the store (a job's
end, F5), takes over the old one's timeline when no photo came, went or changed those (:meth:`adopt_timeline`), and
the window builds a missing one while idle, not on the first key (gui/burst_action.py).
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import compress
from operator import itemgetter
from typing import Iterable, Iterator, MutableMapping

from bibtagger_gui.core.bib import clean_number, number_key
from bibtagger_gui.core.bursts import Timeline
from bibtagger_gui.core.list_order import ListOrder
from bibtagger_gui.core.name_match import group_labels, shared_names
from bibtagger_gui.core.review import LOW_CONFIDENCE, ReviewFilter, ReviewItem, matches, order_key, search_query
from bibtagger_gui.core.store import Counts

_NONE: frozenset[int] = frozenset()
_LAST = itemgetter(-1)  # a key's photo id


class ReviewIndex(MutableMapping[int, ReviewItem]):
    """Snapshots by photo id, in list order, searchable by number without a pass over all of them."""

    def __init__(self, items: Iterable[ReviewItem] = (), order: ListOrder = ListOrder.QUEUE):
        self._items: dict[int, ReviewItem] = {item.photo_id: item for item in items}
        self.order = ListOrder(order)
        self._key: dict[int, tuple] = {}  # photo id -> (order_key, id)
        self._keys: list[tuple] = []  # every key, in order
        self._rows: list[ReviewItem] = []  # the snapshots in that order
        self._ids: list[int] = []  # and their photo ids (a keystroke's list reads them, not the snapshots)
        self._sort()
        self._by_key: dict[str, set[int]] = {}  # number_key -> ids of the photos with a bib of it
        self._by_clean: dict[str, set[int]] = {}  # clean_number (as written, tidied) -> photo ids
        self._index_numbers()
        self._timeline: Timeline | None = None  # built by timeline(); None: to build again
        # name_match.shared_names of every relpath, each relpath with its photo id(s): name -> [(id, relpath)]; None: to build
        self._shared: dict[str, list[tuple[int, str]]] | None = None
        self._all_labels: dict[str, str] = {}  # the labels of every photo (made with _shared)
        self._group_labels: dict[tuple[str, ...], dict[str, str]] = {}  # group_labels of the shown part of a group
        self._counts = [0, 0, 0, 0]  # photos, tagged, reviewed, errors (as Store.counts), kept by _tally
        for item in self._items.values():
            self._tally(item, 1)

    # ---- the mapping
    def __getitem__(self, photo_id: int) -> ReviewItem:
        return self._items[photo_id]

    def get(self, photo_id: int, default=None):  # type: ignore[override]
        return self._items.get(photo_id, default)

    def __contains__(self, photo_id: object) -> bool:
        return photo_id in self._items

    def __iter__(self) -> Iterator[int]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def values(self):  # type: ignore[override]
        return self._items.values()

    def __setitem__(self, photo_id: int, item: ReviewItem) -> None:
        """Put a fresh snapshot of a photo: it moves in the order only when its queue key changed."""
        if item.photo_id != photo_id:
            raise ValueError(f"snapshot of photo {item.photo_id} stored as photo {photo_id}")
        key = (order_key(item, self.order), photo_id)
        old_item = self._items.get(photo_id)
        if old_item is None or _capture_facts(old_item) != _capture_facts(item):
            self._timeline = None
        if old_item is None or old_item.photo.relpath != item.photo.relpath:
            self._shared = None  # a name came or changed: the list's labels are grouped again
        if old_item is not None:
            self._tally(old_item, -1)
            old = self._key[photo_id]
            i = self._position(old)
            if old == key:
                self._rows[i] = item
            else:
                del self._keys[i], self._rows[i], self._ids[i]
                self._insert(key, item)
            if old_item.numbers != item.numbers:
                self._drop_numbers(photo_id, old_item)
                self._add_numbers(photo_id, item)
        else:
            self._insert(key, item)
            self._add_numbers(photo_id, item)
        self._items[photo_id] = item
        self._key[photo_id] = key
        self._tally(item, 1)

    def __delitem__(self, photo_id: int) -> None:
        i = self._position(self._key[photo_id])
        del self._keys[i], self._rows[i], self._ids[i]
        gone = self._items.pop(photo_id)
        self._drop_numbers(photo_id, gone)
        self._tally(gone, -1)
        del self._key[photo_id]
        self._timeline = None
        self._shared = None

    # ---- the status bar's counts
    def _tally(self, item: ReviewItem, sign: int) -> None:
        photo = item.photo
        if getattr(photo, "missing", False):  # (the window holds photos on disk only; Store.counts leaves them out)
            return
        c = self._counts
        c[0] += sign
        c[1] += sign * bool(item.bibs)
        c[2] += sign * bool(photo.reviewed)
        c[3] += sign * (photo.error is not None)

    def counts(self) -> Counts:
        """What ``Store.counts`` says of the photos these snapshots are (photos, tagged, reviewed, errors), kept as
        snapshots come, change and go: no query on an edit."""
        return Counts(*self._counts)

    # ---- capture order
    @property
    def timeline_built(self) -> bool:
        """Whether :meth:`timeline` answers without building (none built yet, or a photo changed since)."""
        return self._timeline is not None

    def adopt_timeline(self, other: "ReviewIndex") -> bool:
        """Take ``other``'s built timeline when it holds exactly these photos with the same names and capture times
        (a re-read of the store after a job or F5: the same shoot, other snapshots): a comparison per photo instead
        of parsing and sorting every capture time again. False (nothing taken) otherwise."""
        theirs = other._timeline
        if theirs is None or self._timeline is not None or len(other._items) != len(self._items):
            return False
        old = other._items
        for pid, item in self._items.items():
            before = old.get(pid)
            if before is None or _capture_facts(before) != _capture_facts(item):
                return False
        self._timeline = theirs
        return True

    def timeline(self) -> Timeline:
        """The snapshots' capture order and bursts (``core.bursts.Timeline``), built again only after a photo
        came, went, or changed what it reads (relpath, captured_at, mtime)."""
        if self._timeline is None:
            self._timeline = Timeline(it.photo for it in self._items.values())
        return self._timeline

    # ---- the list's labels
    def labels(self, photo_ids: Iterable[int]) -> dict[str, str]:
        """What ``name_match.list_labels`` gives for the relpaths of these photos (a list's rows: the ids of
        :meth:`queue_ids`), without a pass over them when no two photos of the index share a file name: the groups
        of shared names are kept until a photo comes, goes or changes its relpath, and each group's labels for the
        part of it shown (docs/gui.md#search-keystrokes)."""
        if self._shared is None:
            groups = shared_names(it.photo.relpath for it in self._items.values())
            by_rel: dict[str, list[int]] = {}
            if groups:
                for pid, item in self._items.items():
                    by_rel.setdefault(item.photo.relpath, []).append(pid)
            self._shared = {name: [(pid, rel) for rel in rels for pid in by_rel[rel]] for name, rels in groups.items()}
            self._group_labels.clear()
            self._all_labels = {}
            for rels in groups.values():
                self._all_labels.update(group_labels(rels))
        if not self._shared:
            return {}
        shown = set(photo_ids)
        if len(shown) == len(self._items):  # every photo
            return dict(self._all_labels)
        labels: dict[str, str] = {}
        for group in self._shared.values():
            part = tuple(dict.fromkeys(rel for pid, rel in group if pid in shown))  # (one relpath twice: once)
            if len(part) > 1:
                got = self._group_labels.get(part)
                if got is None:
                    if len(self._group_labels) > 4 * len(self._shared):  # (searches' parts: kept within bounds)
                        self._group_labels.clear()
                    got = self._group_labels[part] = group_labels(part)
                labels.update(got)
        return labels

    # ---- the order
    def set_order(self, order: ListOrder) -> None:
        """Keep the snapshots in another list order from now on (one sort; nothing when it is the same)."""
        order = ListOrder(order)
        if order is not self.order:
            self.order = order
            self._sort()

    def _sort(self) -> None:
        self._key = {pid: (order_key(it, self.order), pid) for pid, it in self._items.items()}
        self._keys = sorted(self._key.values())
        self._ids = list(map(_LAST, self._keys))
        self._rows = list(map(self._items.__getitem__, self._ids))

    # ---- the queue
    def matching(self, search: str) -> set[int] | frozenset[int] | None:
        """Photo ids with a bib that ``search`` finds (``core.review.matches_search``); None: every photo."""
        stem, prefix = search_query(search)  # already clean
        if not stem and not prefix:
            return None
        if not prefix:
            return frozenset(self._by_key.get(number_key(stem), _NONE))
        # number_matches(prefix=True): by key, or as written
        stem_key = number_key(stem)
        found: set[int] = set()
        for k, ids in self._by_key.items():
            if k.startswith(stem_key):
                found |= ids
        for c, ids in self._by_clean.items():
            if c.startswith(stem):
                found |= ids
        return found

    def queue(self, flt: ReviewFilter = ReviewFilter.ALL, search: str = "", low: float = LOW_CONFIDENCE) -> list[ReviewItem]:
        """The list: what ``build_queue(self.values(), flt, search, low, self.order)`` returns."""
        return self.queue_ids(flt, search, low)[0]

    def queue_ids(self, flt: ReviewFilter = ReviewFilter.ALL, search: str = "",
                  low: float = LOW_CONFIDENCE) -> tuple[list[ReviewItem], list[int]]:
        """:meth:`queue` and its photo ids in its order. The ids come from a list kept beside the sorted snapshots,
        not from them: reading ``item.photo.id`` of 10,000 snapshots scattered in memory took 5-10 ms of a keystroke
        on the benchmark machine, the sort keys' ids 1-2 ms, a copy of the kept list well under one
        (docs/gui.md#search-keystrokes)."""
        flt = ReviewFilter(flt)
        ids = self.matching(search)
        if ids is None:
            rows, pids = list(self._rows), list(self._ids)
        elif 8 * len(ids) < len(self._rows):  # a few photos: sort them rather than walk them all
            keys = sorted(self._key[i] for i in ids)
            pids = list(map(_LAST, keys))
            rows = list(map(self._items.__getitem__, pids))
        else:  # (no Python code per row)
            shown = list(map(ids.__contains__, self._ids))
            rows, pids = list(compress(self._rows, shown)), list(compress(self._ids, shown))
        if flt is not ReviewFilter.ALL:
            kept = [matches(it, flt, low) for it in rows]
            rows, pids = list(compress(rows, kept)), list(compress(pids, kept))
        return rows, pids

    # ---- bookkeeping
    def _position(self, key: tuple) -> int:
        i = bisect_left(self._keys, key)
        if i < len(self._keys) and self._keys[i][-1] == key[-1]:
            return i
        # a key that does not order (a NaN confidence): find it by id
        return next(j for j, k in enumerate(self._keys) if k[-1] == key[-1])

    def _insert(self, key: tuple, item: ReviewItem) -> None:
        i = bisect_left(self._keys, key)
        self._keys.insert(i, key)
        self._rows.insert(i, item)
        self._ids.insert(i, key[-1])

    def _index_numbers(self) -> None:
        """Every snapshot's numbers into the two number indexes: grouped by the number as written first, so each
        distinct number (~2,000 in 10,000 photos) is cleaned once rather than each of ~20,000 bibs."""
        by_number: dict[str, set[int]] = {}
        for pid, item in self._items.items():
            for b in item.bibs:
                ids = by_number.get(b.number)
                if ids is None:
                    by_number[b.number] = {pid}
                else:
                    ids.add(pid)
        for number, ids in by_number.items():
            for index, name in ((self._by_key, number_key(number)), (self._by_clean, clean_number(number))):
                have = index.get(name)
                if have is None:
                    index[name] = set(ids)  # (a set of its own: the two indexes change apart)
                else:
                    have |= ids

    def _add_numbers(self, photo_id: int, item: ReviewItem) -> None:
        for b in item.bibs:
            for index, name in ((self._by_key, number_key(b.number)), (self._by_clean, clean_number(b.number))):
                ids = index.get(name)
                if ids is None:
                    index[name] = {photo_id}
                else:
                    ids.add(photo_id)

    def _drop_numbers(self, photo_id: int, item: ReviewItem) -> None:
        for b in item.bibs:
            for index, name in ((self._by_key, number_key(b.number)), (self._by_clean, clean_number(b.number))):
                ids = index.get(name)
                if ids is not None:
                    ids.discard(photo_id)
                    if not ids:
                        del index[name]


def _capture_facts(item: ReviewItem) -> tuple:
    """What :class:`~bibtagger_gui.core.bursts.Timeline` reads of a snapshot's photo."""
    p = item.photo
    return p.relpath, getattr(p, "captured_at", None), getattr(p, "mtime", None)
