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
from typing import Any, Callable

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


def _row(store: Any, bib_id: int) -> Any:
    try:
        return store.bib(bib_id)
    except KeyError:
        return None


def move(store: Any, photo_id: int, src: dict[int, Any], dst: dict[int, Any], reviewed: tuple[bool, bool],
         versions: tuple[str | None, str | None], model_others: frozenset[int], unrejected: frozenset[int],
         undo: bool) -> None:  # fmt: skip
    """Turn the photo from state ``src`` into ``dst`` (bib id -> row or None; ``reviewed`` and ``versions`` from, to)
    in one transaction, after checking it is in ``src``: :class:`ChangedMeanwhile` (nothing written) otherwise."""
    if not src and reviewed[0] == reviewed[1] and versions[0] == versions[1]:
        return
    with store.transaction():
        if versions[0] != versions[1] and store.photo(photo_id).model_version != versions[0]:
            raise ChangedMeanwhile("the photo was recognized again meanwhile (a re-run or another program); "
                                   "older predictions are not brought back over it")  # fmt: skip
        for bib_id, want in src.items():
            if _row(store, bib_id) != want:
                raise ChangedMeanwhile(BIB_CHANGED)
        if reviewed[0] != reviewed[1] and bool(store.photo(photo_id).reviewed) != reviewed[0]:
            raise ChangedMeanwhile("the photo's review mark was changed meanwhile; the photo now shows what is saved")
        if any(r is not None and r.source == "model" for r in dst.values()):
            others = {r.id for r in store.bibs(photo_id) if r.source == "model" and r.id not in dst}
            if others != model_others:  # set_model_bibs gives every prediction a new id
                raise ChangedMeanwhile("the photo's predictions were changed meanwhile (a re-run, an import or another "
                                       "program); older ones are not brought back beside them")  # fmt: skip
        for bib_id, want in dst.items():
            if src[bib_id] is not None:  # an undone add, or a row about to be put back: not a rejection
                store.delete_bib(bib_id, reject=not undo and want is None and bib_id not in unrejected)
            if want is not None:
                store.restore_bib(want)
        if reviewed[0] != reviewed[1]:
            store.set_reviewed(photo_id, reviewed[1])
        if versions[0] != versions[1]:
            store.set_model_version(photo_id, versions[1])


def revert(store: Any, record: PhotoRecord) -> None:
    """Undo ``record``: the photo back to its state before the edit (:func:`move`)."""
    move(store, record.photo_id, record.rows_after, record.rows_before, record.reviewed[::-1], record.versions[::-1],
         record.model_others, record.unrejected, undo=True)  # fmt: skip


def reapply(store: Any, record: PhotoRecord) -> None:
    """Redo ``record``: the photo to its state after the edit, its very rows (:func:`move`)."""
    move(store, record.photo_id, record.rows_before, record.rows_after, record.reviewed, record.versions,
         record.model_others, record.unrejected, undo=False)  # fmt: skip
