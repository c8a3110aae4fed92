"""QUndoCommands for review edits. Each one writes to the store *immediately*.

The store is the only copy of the data and every edit is its own transaction, so
nothing is ever "unsaved": ``redo()`` applies an edit to the store, ``undo()``
writes the previous state back. The undo stack exists for undo, not for saving
(the window's modified-marker only says "edited since the last checkpoint").

Every command is a :class:`PhotoEditCommand`: its first :meth:`~PhotoEditCommand.apply` runs
the edit in one transaction and records, from the store itself, every bib row of the photo
that the edit changed (before and after, with ids and timestamps) and its review mark. Undo
and redo then move the photo between those two recorded states in one transaction each
(``Store.restore_bib`` puts a row back exactly), so both are exact. They first check that
the photo still holds the state they start from: a bib another program or an import changed
meanwhile, or a prediction set replaced by a re-run or an import since, makes the undo or redo
fail with :class:`ChangedMeanwhile` (reported, nothing written) instead of bringing back stale
rows. ``MainWindow.push_edit`` writes an edit before pushing it, so one that fails is reported
and never pushed (docs/gui.md#saving-and-the-undo-stack).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterator, Sequence

from PySide6.QtGui import QUndoCommand

from bibtagger_gui.core import burst_edits, mturk, photo_batch, photo_record
from bibtagger_gui.core.bib import numbers_said
from bibtagger_gui.core.photo_record import BIB_CHANGED, ChangedMeanwhile  # noqa: F401 (the window reports them)

Box = tuple[float, float, float, float]


@dataclass
class EditContext:
    """What commands need: the store, a callback after each change, and one for an undo or redo that
    could not be written (``failed(command text, photo_id, exception)``; None: the exception propagates)."""

    store: Any
    changed: Callable[[int, int | None], None] = lambda photo_id, bib_id: None  # photo_id, bib to select
    failed: Callable[[str, int | None, Exception], None] | None = None


class StoreCommand(QUndoCommand):
    """A review edit: :meth:`apply` and :meth:`revert` write to the store.

    ``MainWindow.push_edit`` applies a new edit *before* pushing it, so one that fails (a bib another
    program changed meanwhile, a full disk) is reported and never reaches the undo stack; the push's
    own ``redo()`` then skips it once. A later undo or redo that fails goes to ``ctx.failed`` and
    makes the command obsolete: the stack drops it (it can no longer be undone or redone exactly).
    """

    applied = False  # set by push_edit: already written, the push's redo() must not write it again
    photo_id: int | None
    ctx: EditContext

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
            self.setObsolete(True)  # QUndoStack removes it once this undo/redo returns
            self.ctx.failed(self.text(), self.photo_id, exc)


class PhotoEditCommand(StoreCommand):
    """An edit of one photo's bibs and review mark, undone and redone exactly (see the module doc).

    Subclasses implement :meth:`edit` (the first application, inside one transaction) and may set
    ``select_before`` / ``select_after`` (the bib to select after an undo / a redo).
    """

    select_before: int | None = None
    select_after: int | None = None
    show_unchanged = True  # call ctx.changed even when the edit changed nothing in the store

    def __init__(self, ctx: EditContext, photo_id: int | None, text: str):
        super().__init__(text)
        self.ctx, self.photo_id = ctx, photo_id
        self.rows_before: dict[int, Any] | None = None  # changed bib id -> row before (None: absent)
        self.rows_after: dict[int, Any] = {}  # changed bib id -> row after (None: absent)
        self.reviewed: tuple[bool, bool] = (False, False)
        self.versions: tuple[str | None, str | None] = (None, None)  # the photo's model_version before, after
        self.model_others: frozenset[int] = frozenset()  # the photo's other model bibs (unchanged by the edit)
        self.unrejected: frozenset[int] = frozenset()  # bibs the edit removed without a rejection (not ``bib_delete``)

    def edit(self, store: Any) -> None:
        raise NotImplementedError

    @property
    def changes_store(self) -> bool:
        return bool(self.rows_before) or self.reviewed[0] != self.reviewed[1] or self.versions[0] != self.versions[1]

    def apply(self) -> None:
        if self.rows_before is None:
            self.take(photo_record.record_edit(self.ctx.store, self.photo_id, self.edit))
        else:
            self._move(self.rows_before, self.rows_after, self.reviewed, undo=False)
        if self.show_unchanged or self.changes_store:
            self.ctx.changed(self.photo_id, self.select_after)

    def take(self, record: photo_record.PhotoRecord) -> None:
        """Hold ``record`` (core/photo_record.py) as this edit's first application: undo and redo move between its
        two states. Also for an edit written elsewhere (a re-run's photo, recorded by the recognition job)."""
        self.rows_before, self.rows_after = record.rows_before, record.rows_after
        self.reviewed, self.versions = record.reviewed, record.versions  # a re-run's predictions come with their version
        self.model_others, self.unrejected = record.model_others, record.unrejected

    def revert(self) -> None:
        assert self.rows_before is not None, "revert before apply"
        self._move(self.rows_after, self.rows_before, self.reviewed[::-1], undo=True)
        if self.show_unchanged or self.changes_store:
            self.ctx.changed(self.photo_id, self.select_before)

    def _move(self, src: dict[int, Any], dst: dict[int, Any], reviewed: tuple[bool, bool], undo: bool) -> None:
        """Turn the photo from state ``src`` into ``dst`` (one transaction), after checking it is in ``src``."""
        versions = self.versions[::-1] if undo else self.versions
        photo_record.move(self.ctx.store, self.photo_id, src, dst, reviewed, versions, self.model_others,
                          self.unrejected, undo)  # fmt: skip


class AddBibCommand(PhotoEditCommand):
    """Add a human bib (number, optional box)."""

    def __init__(self, ctx: EditContext, photo_id: int, number: str, box: Box | None):
        super().__init__(ctx, photo_id, f"Add bib {number}")
        self.number, self.box = number, box

    def edit(self, store: Any) -> None:
        self.select_after = store.add_bib(self.photo_id, self.number, self.box, source="human").id


class SavedMeanwhile(ChangedMeanwhile):
    """:class:`EditBibCommand` found its bib renumbered meanwhile to the very number typed (two reviewers fixing one
    misread alike): nothing to write, and nothing lost -- not a failure (``MainWindow.push_edit`` says so, no "Not
    saved")."""


class EditBibCommand(PhotoEditCommand):
    """Change a bib's number (and optionally box); the bib becomes source=human.

    The bib must still be as the user saw it (``bib_row``: its number and box), checked in the edit's transaction:
    another window or program that changed it meanwhile (before the window's next poll showed it) had its number or
    box written over without a word -- two reviewers' corrections of one bib, the last one silently winning, and a
    box moved here put back the number it had before the other's fix. That is :class:`ChangedMeanwhile` now: nothing
    written, the photo shown as saved, the message says what it became (and a number entered stays in the field).
    """

    def __init__(self, ctx: EditContext, photo_id: int, bib_row: Any, number: str, box: Box | None = None):
        super().__init__(ctx, photo_id, f"Change bib {bib_row.number} to {number}")
        self.bib_id, self.number = bib_row.id, number
        self.box = box if box is not None else bib_row.box
        self.seen = (bib_row.number, bib_row.box)
        self.select_before = self.select_after = bib_row.id

    def edit(self, store: Any) -> None:
        now = store.bib(self.bib_id)  # KeyError when it is gone
        if (now.number, now.box) != self.seen:
            if self.number != self.seen[0] and now.number == self.number and self.box == self.seen[1]:
                raise SavedMeanwhile(f"Bib {self.seen[0]} was changed to {now.number} meanwhile (by another window or "
                                     "program). That is the number you typed: nothing more to save")  # fmt: skip
            what = f"changed to {now.number}" if now.number != self.seen[0] else "given another box"
            raise ChangedMeanwhile(f"bib {self.seen[0]} was {what} meanwhile (by another window or program); the photo "
                                   "now shows what is saved")  # fmt: skip
        store.update_bib(self.bib_id, number=self.number, box=self.box)


class AdjustBoxCommand(EditBibCommand):
    """Move or resize a bib's box, its number unchanged. Like any edit the bib becomes source=human and
    a model bib's confidence is cleared (``Store.update_bib``).

    ``nudge=True`` (the Alt+arrow keys): consecutive nudges of the same bib within :attr:`BURST_S`
    seconds merge into one undo step (``id()`` / ``mergeWith``), so one undo puts back the box the
    burst started from. Each nudge is still written to the store as it happens.
    """

    NUDGE_ID = 0x626F78  # any id shared by nudges only; -1 (mouse drags) never merges
    BURST_S = 2.0

    def __init__(self, ctx: EditContext, photo_id: int, bib_row: Any, box: Box, nudge: bool = False):
        super().__init__(ctx, photo_id, bib_row, bib_row.number, box)
        self.setText(f"{'Nudge' if nudge else 'Adjust'} box of bib {bib_row.number}")
        self.nudge = nudge
        self.at = time.monotonic()

    def id(self) -> int:
        return self.NUDGE_ID if self.nudge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Take in the next nudge of the same bib when it follows this one (its before-state is this
        one's after-state) within the burst; the merged step goes from this one's before to its after."""
        if not (
            isinstance(other, AdjustBoxCommand)
            and other.nudge
            and other.photo_id == self.photo_id
            and other.bib_id == self.bib_id
            and other.at - self.at <= self.BURST_S
            and self.rows_before is not None
            and other.rows_before == self.rows_after
            and other.reviewed[0] == self.reviewed[1]
        ):
            return False
        self.rows_after = dict(other.rows_after)
        self.reviewed = (self.reviewed[0], other.reviewed[1])
        self.versions = (self.versions[0], other.versions[1])
        self.box, self.at = other.box, other.at
        return True


class DeleteBibCommand(PhotoEditCommand):
    """Delete a bib; undo puts it back exactly (id, number, box, confidence, source, times)."""

    def __init__(self, ctx: EditContext, photo_id: int, bib_row: Any):
        super().__init__(ctx, photo_id, f"Delete bib {bib_row.number}")
        self.bib_id = self.select_before = bib_row.id

    def edit(self, store: Any) -> None:
        store.delete_bib(self.bib_id)


class AcceptPhotoCommand(PhotoEditCommand):
    """Mark a photo reviewed and every bib on it human-confirmed (source=human).

    ``seen``: the bibs the window shows (rows with ``number`` and ``box``), checked in the accept's transaction as
    :class:`EditBibCommand` checks its bib: another window or program that changed the photo's bibs within the last
    second (before the window's next poll showed it) had them confirmed unseen -- a number the reviewer never looked
    at marked human-checked. Bibs added, removed, renumbered or moved meanwhile are :class:`ChangedMeanwhile` now:
    nothing written, the photo shown as saved, the message says what it holds ("now 111, 222"; the window adds
    "look, then Return accepts it"), and Enter accepts what the user then sees. Rows are compared by number and box,
    not id (a re-run that read the same again gave new ids: the same bibs for the eye). None: no check. ``by``: who
    the message says changed them ("this window's recognition": its write of the photo shown was not shown yet).
    """

    def __init__(self, ctx: EditContext, photo_id: int, seen: Sequence[Any] | None = None,
                 by: str = "another window or program"):  # fmt: skip
        super().__init__(ctx, photo_id, "Accept photo")
        self.seen = None if seen is None else self.shown(seen)
        self.by = by

    @staticmethod
    def shown(rows: Sequence[Any]) -> list[tuple[str, Any]]:
        """What the eye tells apart of a photo's bibs: each one's number and box (to 0.01 px: rows the window built
        from another read of the same store never differ by a rounding), in a fixed order."""
        marks = ((r.number, None if r.box is None else tuple(round(v, 2) for v in r.box)) for r in rows)
        return sorted(marks, key=repr)

    def edit(self, store: Any) -> None:
        if self.seen is not None:
            rows = store.bibs(self.photo_id)
            if self.shown(rows) != self.seen:
                now, was = numbers_said(r.number for r in rows), numbers_said(n for n, _box in self.seen)
                same = now == was  # the same numbers: a box was moved, drawn or taken away
                what = f"now {now}{' (a box changed)' if same else f', was {was}'}"
                raise ChangedMeanwhile(f"the photo's bibs were changed meanwhile by {self.by}: {what}; "
                                       "the photo now shows what is saved")  # fmt: skip
        photo_batch.accept_photo(store, self.photo_id)


class CopyBibsCommand(PhotoEditCommand):
    """Copy Bibs from Previous Photo: ``plan`` (core/burst_edits.py) written to the photo; one undo step."""

    def __init__(self, ctx: EditContext, photo_id: int, plan: Any, text: str = "Copy bibs from previous photo"):
        super().__init__(ctx, photo_id, text)
        self.plan = plan

    def edit(self, store: Any) -> None:
        burst_edits.copy_bibs(store, self.photo_id, self.plan)


class VerdictCommand(PhotoEditCommand):
    """An MTurk verdict (approve, reject, correct, or none) and what it does to the photo's bibs.

    ``bibs_step(store)`` is the verdict's effect on the photo (copy the worker's boxes for *correct*,
    take them out for *reject*, ...); it runs in the same transaction as the snapshot of the photo,
    and undo/redo move the photo's bibs back and forth exactly as for the other edits. The verdict
    itself lives in ``mturk.db`` (another SQLite file): ``write_verdict(verdict or None)`` saves it (and
    returns it as saved) after the photo's transaction; if that fails, the photo is moved back, so both
    stay in step. A crash between the two cannot be undone that way: the photo's transaction also notes
    the verdict it is for in the project store (``mturk.note_pending_verdict``), removed once
    ``mturk.db`` has it, and opening the batch again writes a verdict still noted
    (``mturk.finish_pending_verdict``; docs/mturk.md#a-crash-between-the-two-databases).
    ``reveal()`` shows the assignment after an undo or redo; the main window then shows the photo too
    (``ctx.changed``), even when the verdict changed no bib (an approval): the user undoing from the
    main window, with the dialog closed or behind it, sees which photo the undo was about.
    ``photo_id`` is None for an assignment whose photo is not in the project: only the verdict changes.
    """

    show_unchanged = False  # given, an approval changes no bib: the main window stays where it is (undo/redo show it)

    def __init__(
        self,
        ctx: EditContext,
        photo_id: int | None,
        text: str,
        verdicts: tuple[Any, Any],
        write_verdict: Callable[[Any], Any],
        bibs_step: Callable[[Any], None] | None = None,
        reveal: Callable[[], None] = lambda: None,
    ):
        super().__init__(ctx, photo_id, text)
        before, after = verdicts
        self.verdict_before = before
        self.verdict_after = after.stamped() if after is not None else None  # the note and mturk.db get the same time
        self.assignment_id = (after or before).assignment_id
        self.write_verdict, self.bibs_step, self.reveal = write_verdict, bibs_step, reveal

    def edit(self, store: Any) -> None:
        if self.bibs_step is not None:
            self.bibs_step(store)

    def _photo_part(self, step: Callable[[], None], verdict: Any) -> None:
        """The photo's part (``step``) and the note of the verdict it is for: one transaction."""
        store = self.ctx.store
        with store.transaction():
            step()
            mturk.note_pending_verdict(store, self.assignment_id, verdict)

    def _verdict_part(self, verdict: Any, forward: bool) -> Any:
        """Write the verdict to mturk.db, then drop the note; if the write fails, the photo's part is
        moved back (and the note dropped) in one transaction, and the error goes on."""
        store = self.ctx.store
        try:
            saved = self.write_verdict(verdict)
        except Exception:
            if self.photo_id is not None:
                with store.transaction():
                    if forward:
                        self._move(self.rows_after, self.rows_before, self.reviewed[::-1], undo=True)
                    else:
                        self._move(self.rows_before, self.rows_after, self.reviewed, undo=False)
                    mturk.clear_pending_verdict(store)
                if self.changes_store:
                    self.ctx.changed(self.photo_id, None)
            raise
        if self.photo_id is not None:
            try:
                mturk.clear_pending_verdict(store)
            except Exception:  # noqa: BLE001 - harmless: reopening writes that same verdict again
                pass
        return saved

    def apply(self) -> None:
        first = self.rows_before is None
        if self.photo_id is not None:
            self._photo_part(super().apply, self.verdict_after)
        elif first:
            self.rows_before = {}
        saved = self._verdict_part(self.verdict_after, forward=True)
        if first:
            self.verdict_after = saved  # as saved (the same verdict and time): a redo writes it back exactly
            self.show_unchanged = True  # from now on (undo, redo) the window shows the photo, bibs changed or not
        else:
            self.reveal()

    def revert(self) -> None:
        if self.photo_id is not None:
            self._photo_part(super().revert, self.verdict_before)
        self._verdict_part(self.verdict_before, forward=False)
        self.reveal()


class _PartContext:
    """The context of a batch's parts: the batch's store, no per-photo callbacks (the batch refreshes its
    photos once) and no failure handler (a part's failure fails the whole batch)."""

    failed = None

    def __init__(self, outer: EditContext):
        self.outer = outer

    @property
    def store(self) -> Any:
        return self.outer.store

    @staticmethod
    def changed(photo_id: int, bib_id: int | None) -> None:
        pass


class PhotoStepCommand(PhotoEditCommand):
    """One photo's part of a :class:`BatchEditCommand`: ``step(store, photo_id)`` is its edit, recorded and
    undone exactly like any :class:`PhotoEditCommand` (its bib rows, review mark and model version; the
    predictions a re-run's ``Store.set_model_bibs`` replaced are redone as replaced, not rejected)."""

    def __init__(self, ctx: Any, photo_id: int, text: str, step: Callable[[Any, int], Any]):
        super().__init__(ctx, photo_id, text)
        self.step = step

    def edit(self, store: Any) -> None:
        self.step(store, self.photo_id)


class BatchEditCommand(StoreCommand):
    """One undo step over several photos: a batch action on the photos selected in the list
    (core/photo_batch.py, gui/batch_action.py).

    ``steps`` are ``(photo_id, step)`` pairs; each becomes a :class:`PhotoStepCommand` (the per-photo
    record of the edit, with the exact before/after rows). The first :meth:`apply` runs every step in
    **one** store transaction, so a failure (or a crash) part way leaves no photo changed; undo and redo
    move every photo back or forth in one transaction each, and when any photo is no longer in the state
    they start from (``ChangedMeanwhile``: edited, re-run or imported meanwhile) nothing is written and
    the step leaves the stack, as for a single edit. Photos a step did not change are dropped from the
    record; a batch that changed nothing makes itself obsolete, so the undo stack does not keep it.
    ``shown(command, how)`` is called after every write ("apply", "undo", "redo") and after a failed
    undo or redo ("failed"), for the window to re-read the photos (:attr:`photo_ids`).
    """

    photo_id = None  # several photos: a failure is reported without one (``shown`` re-reads them)

    def __init__(self, ctx: EditContext, text: str, steps: Sequence[tuple[int, Callable[[Any, int], Any]]],
                 shown: Callable[["BatchEditCommand", str], None] = lambda command, how: None):  # fmt: skip
        super().__init__(text)
        self.ctx, self.shown = ctx, shown
        part_ctx = _PartContext(ctx)
        self.parts = [PhotoStepCommand(part_ctx, pid, text, step) for pid, step in steps]
        self.done_once = False

    @property
    def photo_ids(self) -> list[int]:
        return [p.photo_id for p in self.parts]

    def apply(self) -> None:
        with self.ctx.store.transaction():  # every photo, or none
            for part in self.parts:
                part.apply()
        how = "redo" if self.done_once else "apply"
        if not self.done_once:
            self.done_once = True
            self.parts = [p for p in self.parts if p.changes_store]
            if not self.parts:
                self.setObsolete(True)  # nothing to undo: QUndoStack.push drops it
        self.shown(self, how)

    def revert(self) -> None:
        with self.ctx.store.transaction():
            for part in reversed(self.parts):
                part.revert()
        self.shown(self, "undo")

    def _guarded(self, step: Callable[[], None]) -> None:
        super()._guarded(step)
        if self.isObsolete():  # it failed (reported): show what the store holds
            self.shown(self, "failed")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cycle collector held off for a bulk undo or redo: the read, write and list rebuild of 10,000 photos make
    ~200,000 short-lived objects, which set off full collections over everything the window and the undo stack hold
    (0.25-0.5 s each on 2 cores, twice a press: docs/benchmarks.md). What they free goes by reference counting anyway."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class RecordedBatchCommand(BatchEditCommand):
    """One undo step of edits already written photo by photo: a re-run on the unreviewed photos, written as its job
    read them (the reviewer sees each at once), from the job's records of them (``core.photo_record.PhotoRecord``:
    every changed row before and after, review mark, model version). Pushed with ``applied`` set
    (``MainWindow.push_done``); undo and redo move every photo in one transaction, all photos checked first, then
    written in a few statements (``photo_record.revert_all`` / ``reapply_all``), failing as a whole, nothing written,
    when any photo changed since. ``busy(text)`` is a context the window shows a long undo or redo in (a wait cursor and
    "Undoing …" in the status bar), entered before the store is touched and left after ``shown``. It holds the records
    alone (~5.1 KB a photo of 0-3 predictions with their history JSON, bench-app gui_rerun_undo) and, per photo, the
    history id at which it was last in the state the next undo or redo starts from (:attr:`since`)."""

    def __init__(self, ctx: EditContext, text: str, records: Sequence[photo_record.PhotoRecord],
                 shown: Callable[["BatchEditCommand", str], None] = lambda command, how: None,
                 busy: Callable[[str], ContextManager[Any]] = lambda text: contextlib.nullcontext()):  # fmt: skip
        super().__init__(ctx, text, [], shown)
        self.records = list(records)
        self.busy = busy
        self.done_once = True
        #: photo id -> the history id at which it was last seen in the state the next undo or redo starts from (its
        #: record's, then that of the last undo or redo): photos logged unchanged since are not read or checked again
        #: (``photo_record.move_all``)
        self.since: dict[int, int] = {r.photo_id: r.last_change for r in self.records}
        #: while ``shown`` runs after an undo or redo: each written photo's state (``photo_record.PhotoState``), what
        #: the store holds now, for the window to show without reading 10,000 photos again; None otherwise
        self.moved: dict[int, photo_record.PhotoState] | None = None

    @property
    def photo_ids(self) -> list[int]:
        return [r.photo_id for r in self.records]

    def apply(self) -> None:
        with self.busy(f"Redoing {self.text()}…"), gc_paused():
            self._show(self._move(photo_record.reapply_all), "redo")

    def revert(self) -> None:
        with self.busy(f"Undoing {self.text()}…"), gc_paused():
            self._show(self._move(photo_record.revert_all), "undo")

    def _move(self, move: Callable[..., dict[int, photo_record.PhotoState]]) -> dict[int, photo_record.PhotoState]:
        """``move`` (revert_all or reapply_all) of the records in one transaction, and the history id it left them at."""
        store = self.ctx.store
        with store.transaction():
            moved = move(store, self.records, self.since)
            mark = store.last_change()
        self.since = dict.fromkeys(self.since, mark)
        return moved

    def _show(self, moved: dict[int, photo_record.PhotoState], how: str) -> None:
        self.moved = moved
        try:
            self.shown(self, how)
        finally:
            self.moved = None  # not held on the stack


class BurstFixCommand(BatchEditCommand):
    """Apply This Fix to the Burst: ``old`` -> ``new`` on the frames of ``plan`` (core/burst_edits.FixPlan),
    one undo step over all of them. ``fixed_photo_id``: the photo the user fixed by hand."""

    def __init__(self, ctx: EditContext, plan: Any, fixed_photo_id: int,
                 shown: Callable[["BatchEditCommand", str], None] = lambda command, how: None):  # fmt: skip
        steps = [(pid, functools.partial(burst_edits.retype_reading, bib_id=bib_id, old=plan.old, new=plan.new))
                 for pid, bib_id in plan.todo]  # fmt: skip
        super().__init__(ctx, f"Apply {plan.old} → {plan.new} to the burst ({len(steps)} photos)", steps, shown)
        self.fix = (fixed_photo_id, plan.old, plan.new)


def number_fix(command: Any) -> tuple[int, str, str] | None:
    """``(photo_id, old, new)`` when ``command`` retyped a *model* reading ``old`` as ``new`` (an
    :class:`EditBibCommand` that changed a prediction's number, or a :class:`CopyBibsCommand` that retyped one
    misread plate: its copied number landed on it), else None."""
    if isinstance(command, CopyBibsCommand) and len(command.plan.retype) == 1:
        _bib_id, old, new = command.plan.retype[0]
        return command.photo_id, old, new
    if not isinstance(command, EditBibCommand) or not command.rows_before:
        return None
    before, after = command.rows_before.get(command.bib_id), command.rows_after.get(command.bib_id)
    if before is None or after is None or before.source != "model" or before.number == after.number:
        return None
    return command.photo_id, before.number, after.number
