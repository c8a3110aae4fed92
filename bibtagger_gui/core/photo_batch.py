"""Batch actions on several photos (Qt-free): which photos each action takes, and its edit of one photo.

The app offers them on the photos selected in its list (gui/batch_action.py): Mark Reviewed, Mark
Unreviewed, Re-run Recognition and Delete Predictions. An action *plans* first (:func:`plan`: the
photos it would change, and why it leaves the others alone), then the GUI runs the action's edit of
one photo (the functions below) on every planned photo inside **one** store transaction, recorded as
one undo step (``gui.commands.BatchEditCommand``). The rules are the single-photo ones: Mark Reviewed
is Accept (Enter) on each photo, a re-run replaces predictions only as ``Store.set_model_bibs`` does
and never touches a reviewed photo (the rule of Re-run on Unreviewed Photos), Delete Predictions
rejects what it deletes as the Delete key does. docs/review-flow.md#batch-actions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Sequence

from bibtagger_gui.core.bib import Bib


class BatchAction(str, Enum):
    """A batch action (values are stable names, e.g. for object names of the menu entries)."""

    MARK_REVIEWED = "mark-reviewed"
    MARK_UNREVIEWED = "mark-unreviewed"
    RERUN = "rerun"
    DELETE_PREDICTIONS = "delete-predictions"

    @property
    def label(self) -> str:
        return {
            "mark-reviewed": "Mark Reviewed",
            "mark-unreviewed": "Mark Unreviewed",
            "rerun": "Re-run Recognition",
            "delete-predictions": "Delete Predictions",
        }[self.value]


def skip_reason(action: BatchAction, item: Any) -> str | None:
    """Why ``action`` would not change the photo of ``item`` (a ``core.review.ReviewItem``), or None."""
    photo = item.photo
    if action is BatchAction.MARK_REVIEWED:
        if photo.reviewed:
            return "already reviewed"
        if photo.error:
            return "could not be read"  # Accept refuses it too
    elif action is BatchAction.MARK_UNREVIEWED:
        if not photo.reviewed:
            return "not reviewed"
    elif action is BatchAction.RERUN:
        if photo.reviewed:
            return "reviewed (a re-run never changes a reviewed photo: Mark Unreviewed first)"
    elif action is BatchAction.DELETE_PREDICTIONS:
        if not any(b.source == "model" for b in item.bibs):
            return "no prediction"
    return None


@dataclass(frozen=True)
class BatchPlan:
    """What an action would do to a selection: the photo ids it takes (in selection order) and the
    others with the reason it leaves them alone."""

    action: BatchAction
    todo: tuple[int, ...]
    skipped: tuple[tuple[int, str], ...] = ()

    def skipped_note(self) -> str:
        """"2 left alone: 1 already reviewed, 1 could not be read" ("" when none)."""
        if not self.skipped:
            return ""
        counts = Counter(why for _pid, why in self.skipped)
        return f"{len(self.skipped)} left alone: " + ", ".join(f"{n} {why}" for why, n in counts.most_common())


def plan(action: BatchAction | str, items: Iterable[Any]) -> BatchPlan:
    """Which of ``items`` (fresh ``ReviewItem`` snapshots) ``action`` changes, and why not the others."""
    action = BatchAction(action)
    todo: list[int] = []
    skipped: list[tuple[int, str]] = []
    for item in items:
        why = skip_reason(action, item)
        if why is None:
            todo.append(item.photo.id)
        else:
            skipped.append((item.photo.id, why))
    return BatchPlan(action, tuple(todo), tuple(skipped))


# ---------------------------------------------------------------- the edit of one photo (inside the batch's transaction)


def accept_photo(store: Any, photo_id: int) -> None:
    """Accept (Enter): the photo is reviewed and every bib on it human-confirmed (source=human)."""
    for row in store.bibs(photo_id):
        if row.source != "human":
            store.update_bib(row.id)  # no change but the source: human-confirmed
    store.set_reviewed(photo_id, True)


def unreview_photo(store: Any, photo_id: int) -> None:
    """Back among the unreviewed photos; its bibs stay as they are (a confirmed bib stays human)."""
    store.set_reviewed(photo_id, False)


def delete_predictions(store: Any, photo_id: int) -> int:
    """Delete the photo's model bibs (human and MTurk bibs stay), each rejected as the Delete key does:
    a later re-run does not bring those numbers back (``Store.deleted_numbers``). The photo keeps its
    ``model_version``, so opening the folder does not recognize it again. Returns how many went."""
    gone = [row.id for row in store.bibs(photo_id) if row.source == "model"]
    for bib_id in gone:
        store.delete_bib(bib_id)
    return len(gone)


def put_predictions(store: Any, photo_id: int, bibs: Sequence[Bib], model_version: str,
                    pixel_print: bytes | None = None) -> bool:  # fmt: skip
    """A re-run's result for one photo: ``Store.set_model_bibs`` (model bibs replaced, human/MTurk bibs
    kept, rejected numbers not brought back), unless the photo was reviewed meanwhile (accepted while
    recognition ran: left alone, as every re-run does; checked in the write's own transaction). A readable
    photo loses its old load error. False when the photo was left alone."""
    if store.set_model_bibs(photo_id, bibs, model_version, pixel_print=pixel_print, unless_reviewed=True) is None:
        return False
    store.set_error(photo_id, None)  # no change (nothing written) when it had none
    return True
