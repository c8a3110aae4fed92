"""MTurk verdicts in the review dialog are undoable edits of the main window: undo of Correct, Reject,
Approve and U puts the photo's bibs, its review state and the verdict back exactly; redo re-applies."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from bibtagger_gui.core import mturk  # noqa: E402
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: E402,F401
from tests.test_gui_undo_exact import CTRL, SHIFT, dump, key, race, undo_redo_cycle  # noqa: E402,F401
from tests.test_mturk import answer, row, write_csv  # noqa: E402


def verdicts(store) -> dict:
    with mturk.VerdictStore.open(store) as vs:  # its own connection: what is on disk
        return vs.all()


def _mturk_batch(tmp_path, made_boxes):
    (x1, y1, x2, y2) = made_boxes
    return write_csv(tmp_path / "batch.csv", [
        row("A1", "photo_000.jpg", answer((x1, y1, x2 - x1, y2 - y1, "101")), worker="W1"),
        row("A2", "photo_000.jpg", answer((x1, y1, x2 - x1, y2 - y1, "107"), (20, 20, 40, 30, "7o")), worker="W2"),
    ])  # fmt: skip


@pytest.mark.parametrize("verdict_key", [Qt.Key.Key_C, Qt.Key.Key_R, Qt.Key.Key_A], ids=["correct", "reject", "approve"])
def test_mturk_verdicts_undo_and_redo_exactly(qtbot, race, tmp_path, verdict_key):
    win, _, ids = race
    pid = ids["photo_000.jpg"]
    box = next(b.box for b in win.store.bibs(pid) if b.number == "101")
    dialog = win.mturk_controller.open_batch(_mturk_batch(tmp_path, box))
    qtbot.waitExposed(dialog)
    assert dialog.select_assignment("A2")

    def act():
        dialog.activateWindow()
        dialog.table.setFocus()
        qtbot.keyClick(dialog.table, verdict_key)
        if verdict_key == Qt.Key.Key_C:  # the worker's boxes copied as human bibs
            assert sorted(b.number for b in win.store.bibs(pid) if b.source == "human") == ["107", "7o"]

    store = win.store
    undo_redo_cycle(qtbot, win, pid, ids["photo_002.jpg"], act, extra=lambda: verdicts(store))  # shows the photo, approval too
    assert verdicts(store)["A2"].action == {Qt.Key.Key_C: mturk.CORRECT, Qt.Key.Key_R: mturk.REJECT, Qt.Key.Key_A: mturk.APPROVE}[verdict_key]
    # the dialog's table follows the undo stack
    dialog.set_filter("all")
    assert dialog.model.verdict("A2") == verdicts(store)["A2"]
    win.undo()
    assert "A2" not in verdicts(store) and dialog.model.verdict("A2") is None
    dialog.close()


def test_a_redone_rejection_after_accept_says_the_boxes_stay(qtbot, race, tmp_path):
    """Rejecting a worker of a photo already accepted leaves the worker's (now human) boxes; the dialog says so
    when the rejection is given and again when it is redone."""
    from bibtagger_gui.core import photo_batch

    win, _, ids = race
    pid = ids["photo_000.jpg"]
    box = next(b.box for b in win.store.bibs(pid) if b.number == "101")
    dialog = win.mturk_controller.open_batch(_mturk_batch(tmp_path, box))
    qtbot.waitExposed(dialog)
    photo_batch.accept_photo(win.store, pid)  # before any edit of this session: the undo stack stays valid
    assert dialog.select_assignment("A1")
    dialog.table.setFocus()
    qtbot.keyClick(dialog.table, Qt.Key.Key_R)
    said = "photo_000.jpg was already accepted with this worker's box(es) 101; they stay"
    assert said in dialog.status.text(), dialog.status.text()
    win.undo()
    assert "A1" not in verdicts(win.store) and said not in dialog.status.text()
    win.redo()
    assert verdicts(win.store)["A1"].action == mturk.REJECT
    assert dialog.status.text().startswith("Verdict now: reject") and said in dialog.status.text(), dialog.status.text()
    dialog.close()


def test_undo_of_correct_from_the_dialog_and_u_take_the_copies_back(qtbot, race, tmp_path):
    win, _, ids = race
    store = win.store
    pid = ids["photo_000.jpg"]
    box = next(b.box for b in store.bibs(pid) if b.number == "101")
    dialog = win.mturk_controller.open_batch(_mturk_batch(tmp_path, box))
    qtbot.waitExposed(dialog)
    dialog.set_filter("all")
    assert dialog.select_assignment("A2")
    before = dump(store), verdicts(store)
    dialog.activateWindow()
    qtbot.keyClick(dialog.table, Qt.Key.Key_C)
    corrected = dump(store), verdicts(store)
    assert corrected != before
    # Ctrl+Z in the MTurk dialog is the window's Edit > Undo
    dialog.activateWindow()
    dialog.table.setFocus()
    qtbot.keyClick(dialog.table, Qt.Key.Key_Z, CTRL)
    assert (dump(store), verdicts(store)) == before
    assert dialog.current_assignment().assignment_id == "A2" and dialog.model.verdict("A2") is None
    qtbot.keyClick(dialog.table, Qt.Key.Key_Z, CTRL | SHIFT)
    assert (dump(store), verdicts(store)) == corrected
    # U ("Undo verdict") on a correction takes its copies back too (a copy edited since would stay)
    assert dialog.select_assignment("A2")
    qtbot.keyClick(dialog.table, Qt.Key.Key_U)
    assert "A2" not in verdicts(store)
    assert [(b.number, b.source) for b in store.bibs(pid) if b.source == "human"] == []
    assert dump(store) == before[0]
    win.undo()  # ... and that U is undoable as well
    assert (dump(store), verdicts(store)) == corrected
    win.redo()  # and redoable: the copies go again as U took them, not as rejected numbers (dump has deleted_numbers)
    assert "A2" not in verdicts(store) and dump(store) == before[0]
    assert store.deleted_numbers(pid) == set()
    dialog.close()


def test_an_mturk_import_leaves_earlier_edits_undoable_and_says_what_cannot_be_undone(qtbot, race, tmp_path):
    """The import only adds mturk rows: it keeps the undo stack; an earlier edit of the same photo undone
    (and redone) after it moves only its own rows, and the imported ones stay exactly as imported."""
    win, _, ids = race
    store = win.store
    pid = ids["photo_000.jpg"]
    start = {b.id: b for b in store.bibs(pid)}
    win.select_photo(pid)
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Return)  # accept: the predictions become human bibs
    win.select_photo(pid)
    win.select_bib(next(b.id for b in win.current_bibs if b.number == "555"))
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Delete)
    assert win.undo_stack.count() == 2
    box = start[min(start)].box
    dialog = win.mturk_controller.open_batch(_mturk_batch(tmp_path, box))
    imported = dump(store)
    added = {b.id: b for b in store.bibs(pid) if b.source == "mturk"}
    assert sorted(b.number for b in added.values()) == ["101", "107"]  # "7o" is not a number: not imported
    assert win.undo_stack.count() == 2  # kept: nothing an undo could bring back was replaced
    said = win.statusBar().currentMessage()
    assert said.startswith("MTurk batch batch.csv: 2 worker box(es) added to the photos as MTurk bibs.")
    assert "The import cannot be undone" in said and "your earlier edits can still be undone" in said
    # the photo was accepted before: its new boxes wait for another look before a fine-tune takes them
    assert said.endswith("1 reviewed photo(s) got new worker boxes: a fine-tune leaves them out until each is "
                         "looked at and accepted again (Enter).") and store.photo(pid).reviewed
    win.undo()  # the delete of 555
    assert sorted(b.number for b in store.bibs(pid) if b.source == "human") == ["101", "555"]
    win.undo()  # the accept: the predictions are back exactly, unreviewed, beside the imported rows
    assert {b.id: b for b in store.bibs(pid)} == {**start, **added}
    assert not store.photo(pid).reviewed
    win.redo()
    win.redo()
    assert dump(store) == imported
    # a batch with nothing new says so
    dialog.close()
    win.mturk_controller.open_batch(_mturk_batch(tmp_path, box))
    assert win.statusBar().currentMessage() == "MTurk batch batch.csv: no new worker boxes (already imported)."
    assert dump(store) == imported and win.undo_stack.count() == 2


def test_undo_of_a_verdict_from_the_main_window_shows_its_photo_and_row(qtbot, race, tmp_path):
    """Ctrl+Z in the main window with the dialog closed (hidden) or behind: the window shows the photo
    the verdict is about, even for an approval (no bib changes), and the dialog's selection is that row,
    under a filter that shows it."""
    win, _, ids = race
    pid, other = ids["photo_000.jpg"], ids["photo_002.jpg"]
    box = next(b.box for b in win.store.bibs(pid) if b.number == "101")
    dialog = win.mturk_controller.open_batch(_mturk_batch(tmp_path, box))
    qtbot.waitExposed(dialog)
    assert dialog.proxy.filter_key() == "pending"
    assert dialog.select_assignment("A2")
    assert dialog.approve()
    assert dialog.current_assignment().assignment_id == "A1"  # the pending list went on
    dialog.close()  # hidden, still the controller's dialog
    win.activateWindow()
    win.select_photo(other)
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert "A2" not in verdicts(win.store)
    assert win.current_id == pid  # the main window shows the photo the undo applied to
    assert dialog.current_assignment().assignment_id == "A2"  # pending again, selected
    assert "photo_000.jpg" in win.statusBar().currentMessage() and "W2" in win.statusBar().currentMessage()
    win.select_photo(other)
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Z, CTRL | SHIFT)
    assert verdicts(win.store)["A2"].action == mturk.APPROVE
    assert win.current_id == pid
    # approved, A2 left the "pending" filter: the dialog shows every assignment to keep it selected
    assert dialog.current_assignment().assignment_id == "A2" and dialog.proxy.filter_key() == "all"
    assert "approve" in dialog.status.text()


class Crash(BaseException):
    """The app dying between two writes (no ``except Exception`` catches it)."""


@pytest.mark.parametrize("action", [mturk.CORRECT, mturk.REJECT])
def test_a_crash_between_the_photo_and_the_verdict_write_is_finished_on_reopening(qtbot, race, tmp_path, monkeypatch, action):
    """The photo's part of a verdict committed, mturk.db not written: opening the batch again writes the
    verdict (the photo's part is not applied again), and the verdict then behaves as any other."""
    win, folder, ids = race
    store = win.store
    pid = ids["photo_000.jpg"]
    box = next(b.box for b in store.bibs(pid) if b.number == "101")
    src = _mturk_batch(tmp_path, box)
    dialog = win.mturk_controller.open_batch(src)
    before = dump(store)
    dialog.set_filter("all")
    assert dialog.select_assignment("A2")

    def crash(self, verdict, assignment=None):
        raise Crash

    real = mturk.VerdictStore.set
    monkeypatch.setattr(mturk.VerdictStore, "set", crash)
    with pytest.raises(Crash):
        dialog.correct() if action == mturk.CORRECT else dialog.reject_assignment()
    monkeypatch.setattr(mturk.VerdictStore, "set", real)
    crashed = dump(store)
    assert crashed != before and "A2" not in verdicts(store)  # the bibs changed, the verdict is not saved
    numbers = sorted((b.number, b.source) for b in store.bibs(pid) if b.source != "model")
    assert numbers == ([("101", "mturk"), ("107", "human"), ("107", "mturk"), ("7o", "human")] if action == mturk.CORRECT
                       else [("101", "mturk")])  # fmt: skip

    assert win.open_folder(folder)  # started again
    wait_idle(qtbot, win)
    store = win.store
    dialog = win.mturk_controller.open_batch(src)
    assert verdicts(store)["A2"].action == action and dialog.model.verdict("A2").action == action
    assert dump(store) == crashed  # nothing applied twice: no second copy, the rejected boxes not re-imported
    assert "when bibtagger stopped" in dialog.status.text() and "photo_000.jpg (W2)" in dialog.status.text()
    assert store.get_meta(mturk.PENDING_META) is None
    # from here the verdict is like any other: U takes it back with its effect on the photo
    dialog.set_filter("all")
    assert dialog.select_assignment("A2")
    dialog.clear_verdict()
    assert "A2" not in verdicts(store)
    assert sorted((b.number, b.source) for b in store.bibs(pid)) == sorted((b.number, b.source) for b in before["photo_000.jpg"][2])
    dialog.close()


def test_a_verdict_leaves_no_pending_note(qtbot, race, tmp_path):
    win, _, ids = race
    store = win.store
    box = next(b.box for b in store.bibs(ids["photo_000.jpg"]) if b.number == "101")
    dialog = win.mturk_controller.open_batch(_mturk_batch(tmp_path, box))
    assert dialog.select_assignment("A2") and dialog.correct()
    assert store.get_meta(mturk.PENDING_META) is None
    win.undo()
    assert store.get_meta(mturk.PENDING_META) is None and "A2" not in verdicts(store)
    win.redo()
    assert store.get_meta(mturk.PENDING_META) is None and verdicts(store)["A2"].action == mturk.CORRECT
    dialog.close()
