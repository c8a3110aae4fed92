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
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

from bibtagger_gui.core.store import row_text

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
    kept: tuple[Any, ...] = ()  # the photo's rows the edit left as they were, in id order (a person's bibs on a re-run)
    #: changed bib id -> (history JSON of its row before, after; None: absent), made by ``record_edit(texts=True)`` (the
    #: re-run's worker) so that its undo and redo encode nothing (``Store.replay``); None: made when written
    texts: dict[int, tuple[str | None, str | None]] | None = None

    @property
    def changes_store(self) -> bool:
        return bool(self.rows_before) or self.reviewed[0] != self.reviewed[1] or self.versions[0] != self.versions[1]


def _state(store: Any, photo_id: int) -> tuple[dict[int, Any], bool, str | None]:
    photo = store.photo(photo_id)
    return {r.id: r for r in store.bibs(photo_id)}, bool(photo.reviewed), photo.model_version


def record_edit(store: Any, photo_id: int, edit: Callable[[Any], Any], texts: bool = False) -> PhotoRecord:
    """Run ``edit(store)`` on photo ``photo_id`` and record what it changed, all in one transaction. ``texts``: also
    make the changed rows' history JSON (:attr:`PhotoRecord.texts`; a re-run's worker, for its undo step)."""
    with store.transaction():  # the edit and what it changed: one atomic step
        before, was, version_was = _state(store, photo_id)
        mark = store.last_change()
        result = edit(store)
        after, now, version_now = _state(store, photo_id)
        rejected = {h.bib_id for h in store.history(photo_id) if h.id > mark and h.action == "bib_delete"}
        last = store.last_change()
    ids = sorted(i for i in before.keys() | after.keys() if before.get(i) != after.get(i))
    rows_before, rows_after = {i: before.get(i) for i in ids}, {i: after.get(i) for i in ids}
    return PhotoRecord(
        photo_id=photo_id,
        rows_before=rows_before,
        rows_after=rows_after,
        reviewed=(was, now),
        versions=(version_was, version_now),
        # bibs the edit removed without rejecting their number (delete_bib(reject=False): U taking back a
        # Correct's copies; set_model_bibs replacing predictions: a re-run); a redo removes them the same way
        unrejected=frozenset(i for i in ids if after.get(i) is None and i not in rejected),
        model_others=frozenset(i for i, r in after.items() if r.source == "model" and i not in rows_after),
        last_change=last,
        result=result,
        kept=tuple(r for i, r in sorted(after.items()) if i not in rows_after),
        texts={i: (_text(rows_before[i]), _text(rows_after[i])) for i in ids} if texts else None,
    )


def _text(row: Any) -> str | None:
    return None if row is None else row_text(row)


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
    kept: tuple[Any, ...] = ()  # the photo's other rows, as recorded (read from the store when it is checked)
    texts: Mapping[int, tuple[str | None, str | None]] | None = None  # PhotoRecord.texts: bib id -> (before, after)

    @property
    def writes(self) -> bool:
        return bool(self.src) or self.reviewed[0] != self.reviewed[1] or self.versions[0] != self.versions[1]


def move(store: Any, photo_id: int, src: dict[int, Any], dst: dict[int, Any], reviewed: tuple[bool, bool],
         versions: tuple[str | None, str | None], model_others: frozenset[int], unrejected: frozenset[int],
         undo: bool) -> None:  # fmt: skip
    """Turn the photo from state ``src`` into ``dst`` (bib id -> row or None; ``reviewed`` and ``versions`` from, to)
    in one transaction, after checking it is in ``src``: :class:`ChangedMeanwhile` (nothing written) otherwise."""
    move_all(store, [Move(photo_id, src, dst, reviewed, versions, model_others, unrejected, undo)])


def move_all(store: Any, moves: Sequence[Move], since: Mapping[int, int] | None = None) -> dict[int, PhotoState]:
    """:func:`move` of many photos in one transaction: every photo is checked first (:class:`ChangedMeanwhile` for the
    first not in the state it starts from: nothing written), then all are written at once (``Store.replay``), logged
    as each photo's own move logs it. The reads are a few queries for all the photos, not several per photo, so the
    undo of a re-run over 10,000 photos is one short pause (docs/benchmarks.md). Returns each written photo's
    :class:`PhotoState` after the moves (what was read, less the rows taken out, plus those put back): the window
    shows them without reading the photos again.

    ``since``: photo id -> a history id (``Store.last_change``) at which the photo was in its move's start state, its
    other rows ``Move.kept`` (the re-run's undo step notes it when recorded and after each undo or redo). A photo the
    history has not logged a change of since is in that state still (every write of a bib, review mark or version is
    logged, ``Store.last_changes``), so it is neither read nor checked: one range read of the history instead of
    reading and comparing 10,000 photos. The others are read and checked as above."""
    moves = [m for m in moves if m.writes]
    if not moves:
        return {}
    if len({m.photo_id for m in moves}) != len(moves):  # each photo is checked against the store as it was read
        raise ValueError("move_all takes each photo once")
    with store.transaction():
        known = _unchanged(store, since) if since else set()
        rest = [m.photo_id for m in moves if m.photo_id not in known]
        marks = store.photo_marks(rest) if rest else {}
        # each photo's bibs (a bib never changes photos: a row of another photo with an id put back here would make
        # the insert fail, the whole transaction rolled back)
        of_photo = store.bibs_of(rest) if rest else {}
        for m in moves:
            if m.photo_id in known:  # as recorded: its rows are the ones kept and those the move starts from
                marks[m.photo_id] = (m.reviewed[0], m.versions[0])
                of_photo[m.photo_id] = [*m.kept, *(r for r in m.src.values() if r is not None)]
            else:
                _check(m, marks, of_photo)
        store.replay(step for m in moves for step in _steps(m))
    return {m.photo_id: _state_after(m, marks.get(m.photo_id), of_photo.get(m.photo_id, ())) for m in moves}


def _unchanged(store: Any, since: Mapping[int, int]) -> set[int]:
    """The photos of ``since`` (photo id -> history id) with no history row after theirs (in the caller's transaction);
    none when the store no longer holds the newest of those rows as it was (``Store.replaced``: a copy put back over
    the project file, whose history says nothing of these photos)."""
    if store.replaced(max(since.values())):
        return set()
    later = store.last_changes(min(since.values()))
    return {pid for pid, mark in since.items() if later.get(pid, 0) <= mark}


def _steps(m: Move) -> Iterator[tuple[str, Any]]:
    """``Store.replay``'s steps of move ``m``, with the rows' history JSON when recorded (``m.texts``)."""
    side = (1, 0) if m.undo else (0, 1)  # the record's (before, after) texts: src, dst
    for bib_id, want in m.dst.items():
        src = m.src[bib_id]
        text = m.texts[bib_id] if m.texts is not None else (None, None)
        if src is not None:  # an undone add, or a row about to be put back: not a rejection
            yield "delete", (src, not m.undo and want is None and bib_id not in m.unrejected, text[side[0]])
        if want is not None:
            yield "restore", (want, text[side[1]])
    if m.reviewed[0] != m.reviewed[1]:
        yield "reviewed", (m.photo_id, m.reviewed[0], m.reviewed[1])
    if m.versions[0] != m.versions[1]:
        yield "model_version", (m.photo_id, m.versions[0], m.versions[1])


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
                    record.model_others, record.unrejected, True, record.kept, record.texts)  # fmt: skip
    return Move(record.photo_id, record.rows_before, record.rows_after, record.reviewed, record.versions,
                record.model_others, record.unrejected, False, record.kept, record.texts)  # fmt: skip


def revert_all(store: Any, records: Sequence[PhotoRecord], since: Mapping[int, int] | None = None) -> dict[int, PhotoState]:
    """Undo every record (the last first) in one transaction: :func:`move_all` (each written photo's state after;
    ``since`` as there, the records' photos in their state after the edit)."""
    return move_all(store, [_moved(r, undo=True) for r in reversed(records)], since)


def reapply_all(store: Any, records: Sequence[PhotoRecord], since: Mapping[int, int] | None = None) -> dict[int, PhotoState]:
    """Redo every record in one transaction: :func:`move_all` (each written photo's state after; ``since`` as there,
    the records' photos in their state before the edit)."""
    return move_all(store, [_moved(r, undo=False) for r in records], since)


def revert(store: Any, record: PhotoRecord) -> None:
    """Undo ``record``: the photo back to its state before the edit (:func:`move_all` of one photo)."""
    move_all(store, [_moved(record, undo=True)])


def reapply(store: Any, record: PhotoRecord) -> None:
    """Redo ``record``: the photo to its state after the edit, its very rows (:func:`move_all` of one photo)."""
    move_all(store, [_moved(record, undo=False)])
