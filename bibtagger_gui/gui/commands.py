"""QUndoCommands for review edits. Each one writes to the store *immediately*.

The store is the only copy of the data and every edit is its own transaction, so
nothing is ever "unsaved": ``redo()`` applies an edit to the store, ``undo()``
writes the previous state back. The undo stack exists for undo, not for saving
(the window's modified-marker only says "edited since the last checkpoint").

Previous states are restored exactly with ``Store.restore_bib`` (same id, number,
box, confidence and source), so ids stay valid for every command on the stack.
``MainWindow.push_edit`` writes an edit before pushing it, so one that fails is
reported and never pushed (docs/gui.md#saving-and-the-undo-stack).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtGui import QUndoCommand

Box = tuple[float, float, float, float]


@dataclass
class EditContext:
    """What commands need: the store, a callback after each change, and one for an undo or redo that
    could not be written (``failed(command text, photo_id, exception)``; None: the exception propagates)."""

    store: Any
    changed: Callable[[int, int | None], None] = lambda photo_id, bib_id: None  # photo_id, bib to select
    failed: Callable[[str, int, Exception], None] | None = None


class StoreCommand(QUndoCommand):
    """A review edit: :meth:`apply` and :meth:`revert` write to the store.

    ``MainWindow.push_edit`` applies a new edit *before* pushing it, so one that fails (a bib another
    program changed meanwhile, a full disk) is reported and never reaches the undo stack; the push's
    own ``redo()`` then skips it once. A later undo or redo that fails goes to ``ctx.failed``.
    """

    applied = False  # set by push_edit: already written, the push's redo() must not write it again
    photo_id: int

    def apply(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError

    def redo(self) -> None:
        if self.applied:
            self.applied = False
            return
        self._guarded(self.apply)

    def undo(self) -> None:
        self._guarded(self.revert)

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - reported to the user, the store is unchanged
            if self.ctx.failed is None:
                raise
            self.ctx.failed(self.text(), self.photo_id, exc)


def _put_back(store: Any, row: Any) -> None:
    """Make bib ``row.id`` exactly ``row`` again (it may have been edited or deleted since)."""
    with store.transaction():
        try:
            store.delete_bib(row.id)
        except KeyError:
            pass
        store.restore_bib(row)


class AddBibCommand(StoreCommand):
    """Add a human bib (number, optional box)."""

    def __init__(self, ctx: EditContext, photo_id: int, number: str, box: Box | None):
        super().__init__(f"Add bib {number}")
        self.ctx, self.photo_id, self.number, self.box = ctx, photo_id, number, box
        self.row: Any = None

    def apply(self) -> None:
        if self.row is None:
            self.row = self.ctx.store.add_bib(self.photo_id, self.number, self.box, source="human")
        else:
            self.ctx.store.restore_bib(self.row)
        self.ctx.changed(self.photo_id, self.row.id)

    def revert(self) -> None:
        self.ctx.store.delete_bib(self.row.id)
        self.ctx.changed(self.photo_id, None)


class EditBibCommand(StoreCommand):
    """Change a bib's number (and optionally box); the bib becomes source=human."""

    def __init__(self, ctx: EditContext, photo_id: int, bib_row: Any, number: str, box: Box | None = None):
        super().__init__(f"Change bib {bib_row.number} to {number}")
        self.ctx, self.photo_id, self.before = ctx, photo_id, bib_row
        self.number = number
        self.box = box if box is not None else bib_row.box

    def apply(self) -> None:
        self.ctx.store.update_bib(self.before.id, number=self.number, box=self.box)
        self.ctx.changed(self.photo_id, self.before.id)

    def revert(self) -> None:
        _put_back(self.ctx.store, self.before)
        self.ctx.changed(self.photo_id, self.before.id)


class DeleteBibCommand(StoreCommand):
    """Delete a bib; undo puts it back with its id, number, box, confidence and source."""

    def __init__(self, ctx: EditContext, photo_id: int, bib_row: Any):
        super().__init__(f"Delete bib {bib_row.number}")
        self.ctx, self.photo_id, self.before = ctx, photo_id, bib_row

    def apply(self) -> None:
        self.ctx.store.delete_bib(self.before.id)
        self.ctx.changed(self.photo_id, None)

    def revert(self) -> None:
        self.ctx.store.restore_bib(self.before)
        self.ctx.changed(self.photo_id, self.before.id)


class AcceptPhotoCommand(StoreCommand):
    """Mark a photo reviewed and every bib on it human-confirmed (source=human)."""

    def __init__(self, ctx: EditContext, photo_id: int):
        super().__init__("Accept photo")
        self.ctx, self.photo_id = ctx, photo_id
        self.was_reviewed = False
        self.confirmed: list[Any] = []

    def apply(self) -> None:
        store = self.ctx.store
        with store.transaction():  # one atomic step
            self.was_reviewed = bool(store.photo(self.photo_id).reviewed)
            self.confirmed = [row for row in store.bibs(self.photo_id) if row.source != "human"]
            for row in self.confirmed:
                store.update_bib(row.id)  # no change but the source: human-confirmed
            store.set_reviewed(self.photo_id, True)
        self.ctx.changed(self.photo_id, None)

    def revert(self) -> None:
        store = self.ctx.store
        with store.transaction():
            for row in self.confirmed:
                _put_back(store, row)
            store.set_reviewed(self.photo_id, self.was_reviewed)
        self.ctx.changed(self.photo_id, None)
