"""What an edit of one photo changed, recorded from the store in the edit's own transaction (Qt-free).

Every undo step of the app (``gui.commands.PhotoEditCommand``) keeps such a record: the photo's bib rows the edit
changed, before and after (ids, numbers, boxes, confidences, sources, times), its review mark and model version
before and after, the photo's other predictions, and which removed rows were not rejections. Undo and redo move the
photo between the two states exactly (:func:`move`, :func:`revert`, :func:`reapply`), after checking that the photo
is in the state they start from (:class:`ChangedMeanwhile` otherwise). The recognition job records its writes of a
re-run here too, in its worker thread, so the window can put the whole re-run on the undo stack as one step when it
ends (docs/gui.md#saving-and-the-undo-stack).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence

#: why an edit of a bib that another program, window or import changed or removed meanwhile failed
BIB_CHANGED = "the bib was changed or removed meanwhile (another program or window?); the photo now shows what is saved"


class ChangedMeanwhile(KeyError):
    """An undo or redo found the photo changed since (another program, an import, a re-run)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "changed meanwhile"


@dataclass
class PhotoRecord:
    """One photo's edit: changed bib id -> row before / after (None: absent), and the rest of its state."""

    photo_id: int
    rows_before: dict[int, Any]
    rows_after: dict[int, Any]
    reviewed: tuple[bool, bool]
    versions: tuple[str | None, str | None]  # the photo's model_version before, after (a re-run's come with it)
    model_others: frozenset[int]  # the photo's other model bibs (unchanged by the edit)
    unrejected: frozenset[int]  # bibs the edit removed without a rejection (not ``bib_delete``)
    last_change: int  # the store's last history id once the edit was written (a later one is someone else's)
    result: Any = None  # what the edit returned

    @property
    def changes_store(self) -> bool:
        return bool(self.rows_before) or self.reviewed[0] != self.reviewed[1] or self.versions[0] != self.versions[1]


def _state(store: Any, photo_id: int) -> tuple[dict[int, Any], bool, str | None]:
    photo = store.photo(photo_id)
    return {r.id: r for r in store.bibs(photo_id)}, bool(photo.reviewed), photo.model_version


def record_edit(store: Any, photo_id: int, edit: Callable[[Any], Any]) -> PhotoRecord:
    """Run ``edit(store)`` on photo ``photo_id`` and record what it changed, all in one transaction."""
    with store.transaction():  # the edit and what it changed: one atomic step
        before, was, version_was = _state(store, photo_id)
        mark = store.last_change()
        result = edit(store)
        after, now, version_now = _state(store, photo_id)
        rejected = {h.bib_id for h in store.history(photo_id) if h.id > mark and h.action == "bib_delete"}
        last = store.last_change()
    ids = sorted(i for i in before.keys() | after.keys() if before.get(i) != after.get(i))
    rows_after = {i: after.get(i) for i in ids}
    return PhotoRecord(
        photo_id=photo_id,
        rows_before={i: before.get(i) for i in ids},
        rows_after=rows_after,
        reviewed=(was, now),
        versions=(version_was, version_now),
        # bibs the edit removed without rejecting their number (delete_bib(reject=False): U taking back a
        # Correct's copies; set_model_bibs replacing predictions: a re-run); a redo removes them the same way
        unrejected=frozenset(i for i in ids if after.get(i) is None and i not in rejected),
        model_others=frozenset(i for i, r in after.items() if r.source == "model" and i not in rows_after),
        last_change=last,
        result=result,
    )


class PhotoState(NamedTuple):
    """A photo as :func:`move_all` left it: its bib rows in id order (as ``Store.bibs`` reads them), review mark and
    model version. Built from what the moves read and wrote in their transaction, so it is what the store holds."""

    bibs: tuple[Any, ...]
    reviewed: bool
    model_version: str | None


@dataclass(frozen=True)
class Move:
    """One photo's move from state ``src`` to ``dst`` (bib id -> row or None; ``reviewed`` and ``versions``: from, to),
    as :func:`move` takes it; ``undo``: an undo (a removed row is never a rejection) rather than a redo."""

    photo_id: int
    src: dict[int, Any]
    dst: dict[int, Any]
    reviewed: tuple[bool, bool]
    versions: tuple[str | None, str | None]
    model_others: frozenset[int]
    unrejected: frozenset[int]
    undo: bool

    @property
    def writes(self) -> bool:
        return bool(self.src) or self.reviewed[0] != self.reviewed[1] or self.versions[0] != self.versions[1]


def move(store: Any, photo_id: int, src: dict[int, Any], dst: dict[int, Any], reviewed: tuple[bool, bool],
         versions: tuple[str | None, str | None], model_others: frozenset[int], unrejected: frozenset[int],
         undo: bool) -> None:  # fmt: skip
    """Turn the photo from state ``src`` into ``dst`` (bib id -> row or None; ``reviewed`` and ``versions`` from, to)
    in one transaction, after checking it is in ``src``: :class:`ChangedMeanwhile` (nothing written) otherwise."""
    move_all(store, [Move(photo_id, src, dst, reviewed, versions, model_others, unrejected, undo)])


def move_all(store: Any, moves: Sequence[Move]) -> dict[int, PhotoState]:
    """:func:`move` of many photos in one transaction: every photo is checked first (:class:`ChangedMeanwhile` for the
    first not in the state it starts from: nothing written), then all are written at once (``Store.replay``), logged
    as each photo's own move logs it. The reads are a few queries for all the photos, not several per photo, so the
    undo of a re-run over 10,000 photos is one short pause (docs/benchmarks.md). Returns each written photo's
    :class:`PhotoState` after the moves (what was read, less the rows taken out, plus those put back): the window
    shows them without reading the photos again."""
    moves = [m for m in moves if m.writes]
    if not moves:
        return {}
    if len({m.photo_id for m in moves}) != len(moves):  # each photo is checked against the store as it was read
        raise ValueError("move_all takes each photo once")
    with store.transaction():
        marks = store.photo_marks(m.photo_id for m in moves)
        # each photo's bibs (a bib never changes photos: a row of another photo with an id put back here would make
        # the insert fail, the whole transaction rolled back)
        of_photo = store.bibs_of(m.photo_id for m in moves)
        steps: list[tuple[str, Any]] = []
        for m in moves:
            _check(m, marks, of_photo)
            for bib_id, want in m.dst.items():
                if m.src[bib_id] is not None:  # an undone add, or a row about to be put back: not a rejection
                    steps.append(("delete", (m.src[bib_id], not m.undo and want is None and bib_id not in m.unrejected)))
                if want is not None:
                    steps.append(("restore", want))
            if m.reviewed[0] != m.reviewed[1]:
                steps.append(("reviewed", (m.photo_id, m.reviewed[0], m.reviewed[1])))
            if m.versions[0] != m.versions[1]:
                steps.append(("model_version", (m.photo_id, m.versions[0], m.versions[1])))
        store.replay(steps)
    return {m.photo_id: _state_after(m, marks.get(m.photo_id), of_photo.get(m.photo_id, ())) for m in moves}


def _state_after(m: Move, mark: tuple[bool, str | None] | None, rows: Sequence[Any]) -> PhotoState:
    """Photo ``m.photo_id`` once ``m`` is written, from its ``rows`` and ``mark`` (reviewed, version) read before."""
    by_id = {r.id: r for r in rows}
    for bib_id, want in m.dst.items():
        if want is None:
            by_id.pop(bib_id, None)
        else:
            by_id[bib_id] = want
    reviewed, version = mark if mark is not None else (m.reviewed[0], m.versions[0])
    return PhotoState(tuple(by_id[i] for i in sorted(by_id)), m.reviewed[1] if m.reviewed[0] != m.reviewed[1] else reviewed,
                      m.versions[1] if m.versions[0] != m.versions[1] else version)  # fmt: skip


def _puts_back_predictions(m: Move) -> bool:
    return any(r is not None and r.source == "model" for r in m.dst.values())


def _check(m: Move, marks: dict[int, tuple[bool, str | None]], of_photo: dict[int, list]) -> None:
    """:class:`ChangedMeanwhile` unless photo ``m.photo_id`` is in the state ``m`` starts from (read before any write)."""
    rows = {r.id: r for r in of_photo.get(m.photo_id, ())}
    if (m.versions[0] != m.versions[1] or m.reviewed[0] != m.reviewed[1]) and m.photo_id not in marks:
        raise ChangedMeanwhile(f"no photo with id {m.photo_id} (removed meanwhile)")
    reviewed, version = marks.get(m.photo_id, (m.reviewed[0], m.versions[0]))
    if m.versions[0] != m.versions[1] and version != m.versions[0]:
        raise ChangedMeanwhile("the photo was recognized again meanwhile (a re-run or another program); "
                               "older predictions are not brought back over it")  # fmt: skip
    for bib_id, want in m.src.items():
        if rows.get(bib_id) != want:
            raise ChangedMeanwhile(BIB_CHANGED)
    if m.reviewed[0] != m.reviewed[1] and reviewed != m.reviewed[0]:
        raise ChangedMeanwhile("the photo's review mark was changed meanwhile; the photo now shows what is saved")
    if _puts_back_predictions(m):
        others = {i for i, r in rows.items() if r.source == "model" and i not in m.dst}
        if others != m.model_others:  # set_model_bibs gives every prediction a new id
            raise ChangedMeanwhile("the photo's predictions were changed meanwhile (a re-run, an import or another "
                                   "program); older ones are not brought back beside them")  # fmt: skip


def _moved(record: PhotoRecord, undo: bool) -> Move:
    if undo:
        return Move(record.photo_id, record.rows_after, record.rows_before, record.reviewed[::-1], record.versions[::-1],
                    record.model_others, record.unrejected, undo=True)  # fmt: skip
    return Move(record.photo_id, record.rows_before, record.rows_after, record.reviewed, record.versions,
                record.model_others, record.unrejected, undo=False)  # fmt: skip


def revert_all(store: Any, records: Sequence[PhotoRecord]) -> dict[int, PhotoState]:
    """Undo every record (the last first) in one transaction: :func:`move_all` (each written photo's state after)."""
    return move_all(store, [_moved(r, undo=True) for r in reversed(records)])


def reapply_all(store: Any, records: Sequence[PhotoRecord]) -> dict[int, PhotoState]:
    """Redo every record in one transaction: :func:`move_all` (each written photo's state after)."""
    return move_all(store, [_moved(r, undo=False) for r in records])


def revert(store: Any, record: PhotoRecord) -> None:
    """Undo ``record``: the photo back to its state before the edit (:func:`move_all` of one photo)."""
    move_all(store, [_moved(record, undo=True)])


def reapply(store: Any, record: PhotoRecord) -> None:
    """Redo ``record``: the photo to its state after the edit, its very rows (:func:`move_all` of one photo)."""
    move_all(store, [_moved(record, undo=False)])
