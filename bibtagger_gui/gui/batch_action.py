"""Batch actions on the photos selected in the list: Edit > Selected Photos, the list's context menu
(right click, or the Menu key with the list focused: Ctrl+L) and Recognition > Re-run on Selected Photos.

Mark Reviewed, Mark Unreviewed and Delete Predictions write at once; Re-run Recognition reads the photos
in the background (a ``RecognitionJob`` with ``collect=True``, which writes nothing) and writes its
results when the job ends. Either way the whole batch is ONE ``BatchEditCommand`` on the window's undo
stack, written in one store transaction. Which photos an action takes, and its edit of one photo, are
the Qt-free ``core.photo_batch``. docs/gui.md#batch-actions-on-selected-photos.
"""

from __future__ import annotations

import functools
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMessageBox

from bibtagger_gui.core import photo_batch, review
from bibtagger_gui.core.photo_batch import BatchAction, BatchPlan
from bibtagger_gui.gui.commands import BatchEditCommand
from bibtagger_gui.gui.feature_controller import FeatureController, save_typed_number
from bibtagger_gui.gui.workers import RecognitionJob

#: a batch of this many photos or more is confirmed first (a smaller one is done at once; all are undoable)
CONFIRM_AT = 20

MENU_TEXT = {
    BatchAction.MARK_REVIEWED: "Mark &Reviewed",
    BatchAction.MARK_UNREVIEWED: "Mark &Unreviewed",
    BatchAction.RERUN: "Re-run Re&cognition",
    BatchAction.DELETE_PREDICTIONS: "&Delete Predictions (Keep My Bibs)",
}
WHAT_IT_DOES = {
    BatchAction.MARK_REVIEWED: "Each photo is accepted as Enter accepts one: marked reviewed, and its bibs, "
                               "predictions included, become confirmed (human) bibs.",
    BatchAction.MARK_UNREVIEWED: "Each photo goes back among the unreviewed photos; its bibs stay as they are.",
    BatchAction.RERUN: "The current models read each unreviewed photo again and replace its predictions; "
                       "your own bibs, and the numbers you deleted, stay.",
    BatchAction.DELETE_PREDICTIONS: "Each photo's predictions are deleted (rejected: a re-run does not bring "
                                    "them back); your own and MTurk bibs stay.",
}  # fmt: skip
DONE_TEXT = {
    BatchAction.MARK_REVIEWED: "Marked {n} photo(s) reviewed",
    BatchAction.MARK_UNREVIEWED: "Marked {n} photo(s) unreviewed",
    BatchAction.RERUN: "Re-ran recognition on {n} photo(s)",
    BatchAction.DELETE_PREDICTIONS: "Deleted the predictions of {n} photo(s)",
}
STEPS = {
    BatchAction.MARK_REVIEWED: photo_batch.accept_photo,
    BatchAction.MARK_UNREVIEWED: photo_batch.unreview_photo,
    BatchAction.DELETE_PREDICTIONS: photo_batch.delete_predictions,
}


class BatchController(FeatureController):
    """The batch actions of one window (``window.batch_controller``)."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.actions: dict[BatchAction, QAction] = {}
        self.answer = True  # what :meth:`confirm` answers when not interactive (tests)
        self.asked: list[str] = []  # the confirmations asked, for tests
        self.context_menu: QMenu | None = None
        self.pending: dict[Any, BatchPlan] = {}  # re-run jobs still reading -> their plan

    # ---------------------------------------------------------------- entry points
    def selected_ids(self) -> list[int]:
        return [p.id for p in self.window.selected_photos()]

    def trigger(self, action: BatchAction) -> bool:
        """Run ``action`` on the photos selected in the list; False (and the status bar says why) when
        nothing was done or started."""
        w = self.window
        if w.store is None:
            return self._say("No folder is open")
        if self._refused_while_away(f"{action.label.replace('&', '')} not done"):  # the folder gone a moment ago (a
            return False  # drive unplugged): nothing written there, said as F5 says it
        # a number typed on the photo shown is saved first (never lost), its own undo step; a drawn box waiting for
        # its number stays waiting (committing ended it without a word): its number typed after adds it
        save_typed_number(w)
        ids = self.selected_ids()
        if not ids:
            return self._say("No photo is selected in the list (click, Shift/Ctrl+click; or "
                             f"{w.keymap.text('focus_list') or 'Review > Go to Photo List'}, then Shift+Up/Down)")  # fmt: skip
        plan = photo_batch.plan(action, self._fresh(ids))
        skipped = f" ({plan.skipped_note()})" if plan.skipped else ""
        if not plan.todo:
            return self._say(f"{action.label}: nothing to do for the {len(ids)} selected photo(s){skipped}")
        if len(plan.todo) >= CONFIRM_AT and not self.confirm(action, plan):
            return self._say(f"{action.label} cancelled: nothing changed")
        if action is BatchAction.RERUN:
            return self._start_rerun(plan)
        step = STEPS[action]
        command = BatchEditCommand(w.ctx, f"{action.label} ({len(plan.todo)} photos)",
                                   [(pid, step) for pid in plan.todo], shown=self._shown)  # fmt: skip
        if not w.push_edit(command):
            return False  # reported ("Not saved: …"); the transaction left every photo as it was
        return self._report(action, command, skipped)

    def confirm(self, action: BatchAction, plan: BatchPlan) -> bool:
        """Ask before a large batch (:data:`CONFIRM_AT` photos or more)."""
        undo = self.window.keymap.text("undo") or "Edit > Undo"
        text = f"{action.label} on {len(plan.todo)} photos?"
        info = f"{WHAT_IT_DOES[action]}\n\nOne undo ({undo}) puts every photo back."
        if plan.skipped:
            info += f"\n\n{plan.skipped_note()}."
        self.asked.append(text)
        if not self.interactive:
            return self.answer
        box = QMessageBox(QMessageBox.Icon.Question, action.label, text, QMessageBox.StandardButton.NoButton, self.window)
        box.setInformativeText(info)
        go = box.addButton(action.label.replace("&", ""), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(go)
        box.exec()
        yes = box.clickedButton() is go
        box.deleteLater()
        return yes

    # ---------------------------------------------------------------- re-run
    def _start_rerun(self, plan: BatchPlan) -> bool:
        w = self.window
        self._drop_stale()
        resumed = w.end_pause()  # a run the user starts is not paused (it would only wait): the pause ends
        job = RecognitionJob(w.folder, w.generation.value, w.generation, plan.todo, w.models_dir, collect=True)
        self.pending[job] = plan
        # heard after the window's own slot, so its "Recognition done" and queue rebuild come first; connected before
        # the job is queued (a connect after start_job missed the end of a job quicker than it: its results were lost)
        if not w.start_job(job, then=self._rerun_finished):
            self.pending.pop(job, None)
            return False  # the folder is away (said)
        skipped = f" ({plan.skipped_note()})" if plan.skipped else ""
        paused = " Recognition was paused: resumed for it." if resumed else ""
        self._say(f"Re-running recognition on {len(plan.todo)} photo(s){skipped}; the new predictions are written "
                  f"as one undo step when it ends.{paused}", 10000)  # fmt: skip
        return True

    def _drop_stale(self) -> None:
        """Forget re-runs that will never report: of a folder no longer open, or cancelled before they ran
        (a job taken from the queue never runs); a job that has reported has left ``pending`` already."""
        w = self.window
        self.pending = {j: p for j, p in self.pending.items() if j.generation == w.generation.value and j in w.jobs}

    def _rerun_finished(self, job: Any, generation: int, outcome: str, message: str) -> None:
        w = self.window
        plan = self.pending.pop(job, None) if job is not None else None
        if plan is None or generation != w.generation.value or w.store is None:
            return  # its folder was closed: the results are dropped
        if outcome == "failed":
            self._say(f"Re-run on the selected photos failed: {message}; nothing changed", 15000)
            return
        version = job.version
        steps = [(pid, functools.partial(photo_batch.put_predictions, bibs=bibs, model_version=version,
                                         pixel_print=pixel_print))
                 for pid, (bibs, pixel_print) in job.results.items()]  # fmt: skip
        what = f" ({len(job.results)} of {len(plan.todo)} read before it was cancelled)" if outcome == "cancelled" else ""
        command = BatchEditCommand(w.ctx, f"Re-run Recognition ({len(steps)} photos)", steps, shown=self._shown)
        if steps and not w.push_edit(command):
            return
        self._select(command.photo_ids, move=False)  # the window's rebuild at the job's end cleared the selection
        # a photo read again to the same predictions and version leaves the command (nothing to undo), but its old
        # load error is gone (put_predictions: a fact about the file, not undone): its row, Enter and the counts follow
        for pid in job.results.keys() - set(command.photo_ids):
            w.refresh_photo(pid)
        for pid, why in job.failures.items():  # a load error is a fact about the file, not an edit: not undone
            try:
                w.store.set_error(pid, why)
            except Exception:  # noqa: BLE001 - the photo left the project meanwhile
                continue
            w.refresh_photo(pid)
        notes = [plan.skipped_note()] if plan.skipped else []
        unchanged = len(steps) - len(command.parts)
        if unchanged:
            notes.append(f"{unchanged} unchanged or reviewed meanwhile")
        if job.failures:
            notes.append(f"{len(job.failures)} could not be read")
        self._report(BatchAction.RERUN, command, f"{what} ({'; '.join(notes)})" if notes else what)

    # ---------------------------------------------------------------- after a write
    def _report(self, action: BatchAction, command: BatchEditCommand, notes: str) -> bool:
        n = len(command.parts)
        if not n:
            self._say(f"{action.label} changed no photo{notes}", 10000)
            return False
        undo = self.window.keymap.text("undo") or "Edit > Undo"
        self._say(f"{DONE_TEXT[action].format(n=n)}{notes}; {undo} undoes all of it", 10000)
        return True

    def _shown(self, command: BatchEditCommand, how: str) -> None:
        """After a batch wrote (apply, undo, redo) or failed: re-read its photos into the list and the view;
        an undo or redo also selects them in the list (showing one of them, as an undo shows its photo)."""
        w = self.window
        ids = command.photo_ids
        if w.store is None:
            return
        for pid in ids:
            w.refresh_photo(pid)
        if how in ("undo", "redo") and ids:
            hidden = self._select(ids)
            more = f"; {hidden} of them hidden by the search or filter" if hidden else ""
            verb = "Undid" if how == "undo" else "Redid"
            self._say(f"{verb} {command.text()}{more}", 10000)

    def _select(self, ids: list[int], move: bool = True) -> int:
        """Select the rows of ``ids`` the list shows (with ``move``, the current photo becomes one of them
        unless it is already); returns how many the search or filter hides."""
        w = self.window
        model = w.list_model
        rows = sorted(r for r in (model.row_of(pid) for pid in ids) if r is not None)
        if not rows:
            return len(ids)
        if move and w.current_id not in ids:
            w.select_row(rows[0])
        model.ensure_fetched(rows[-1])
        selection = QItemSelection()
        start = prev = rows[0]
        for r in rows[1:] + [None]:
            if r is not None and r == prev + 1:
                prev = r
                continue
            selection.select(model.index(start), model.index(prev))
            if r is not None:
                start = prev = r
        w.list_view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        return len(ids) - len(rows)

    def _fresh(self, ids: list[int]) -> list[Any]:
        """The photos as stored now (the list's snapshots may be older than an edit by another program)."""
        out = []
        for pid in ids:
            try:
                out.append(review.item_for(self.window.store, pid))
            except KeyError:
                continue
        return out

    # ---------------------------------------------------------------- menus
    def update_texts(self) -> None:
        """The menus name how many photos are selected and each action how many of them it changes ("Mark Reviewed
        (2 of 3 Selected Photos)": a reviewed photo is not marked reviewed again; the list's snapshots, so opening a
        menu reads no photo). An action with none selected says why when used."""
        items = self.window.selected_items() if self.window.store is not None else []
        n = len(items)
        self.submenu.setTitle(f"&Selected Photos ({n})" if n else "&Selected Photos (none selected)")
        self.rerun_action.setText(f"Re-run on &Selected Photos ({n})" if n else "Re-run on &Selected Photos")
        for action, act in self.actions.items():
            todo = len(photo_batch.plan(action, items).todo)
            of = f"{todo} of {n}" if todo < n else f"{n}"
            act.setText(f"{MENU_TEXT[action]} ({of} Selected Photo{'' if n == 1 else 's'})" if n else MENU_TEXT[action])

    def show_context_menu(self, pos: QPoint) -> QMenu:
        """The list's context menu (right click, or the Menu key / Shift+F10 with the list focused)."""
        view = self.window.list_view
        self.update_texts()
        if self.context_menu is None:
            menu = QMenu(view)
            menu.setObjectName("photoListMenu")
            for action in self.actions.values():
                menu.addAction(action)
            self.context_menu = menu
        if not view.viewport().rect().contains(pos):  # the keyboard's menu: at the current row
            rect = view.visualRect(view.currentIndex())
            pos = rect.center() if rect.isValid() else QPoint(0, 0)
        self.context_menu.popup(view.viewport().mapToGlobal(pos))
        return self.context_menu


def install(window: Any) -> BatchController:
    """Edit > Selected Photos (the four actions), the same in the list's context menu, and
    Recognition > Re-run on Selected Photos."""
    controller = BatchController(window)
    submenu = window.edit_menu.addMenu("&Selected Photos")
    submenu.setObjectName("selectedPhotosMenu")
    for action in BatchAction:
        act = QAction(MENU_TEXT[action], window)
        act.setObjectName(f"batch_{action.value.replace('-', '_')}")
        act.setStatusTip(f"On the photos selected in the list: {WHAT_IT_DOES[action]} One undo step.")
        act.setToolTip(act.statusTip())
        act.triggered.connect(lambda _checked=False, a=action: controller.trigger(a))
        submenu.addAction(act)
        controller.actions[action] = act
    controller.submenu = submenu
    rerun = QAction("Re-run on &Selected Photos", window)
    rerun.setObjectName("rerun_selected")
    rerun.setStatusTip(controller.actions[BatchAction.RERUN].statusTip())
    rerun.triggered.connect(lambda _checked=False: controller.trigger(BatchAction.RERUN))
    after = window.actions_by_name.get("rerun")
    rec_actions = window.recognition_menu.actions()
    nxt = rec_actions[rec_actions.index(after) + 1] if after in rec_actions and rec_actions[-1] is not after else None
    if nxt is not None:
        window.recognition_menu.insertAction(nxt, rerun)
    else:
        window.recognition_menu.addAction(rerun)
    controller.rerun_action = rerun
    window.edit_menu.aboutToShow.connect(controller.update_texts)
    window.recognition_menu.aboutToShow.connect(controller.update_texts)
    view = window.list_view
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    view.customContextMenuRequested.connect(controller.show_context_menu)
    more = "; the Menu key or a right click: actions on the selected photos (also Edit > Selected Photos)"
    view.setAccessibleDescription(view.accessibleDescription() + more)
    view.setToolTip(view.toolTip() + more)
    window.batch_controller = controller
    return controller
