"""Batch actions on the photos selected in the list (gui/batch_action.py, core/photo_batch.py): Mark Reviewed,
Mark Unreviewed, Re-run Recognition, Delete Predictions. Each is ONE undo step that puts every photo back
exactly (every bib row, review mark, model version, rejected numbers) and redoes exactly, written in one
transaction (a failure part way changes no photo), reachable from the Edit menu, the Recognition menu and the
list's context menu (keyboard too), confirmed first when large, and said in the status bar."""

from __future__ import annotations

import sqlite3

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QContextMenuEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bibtagger_gui.core.bib import Bib  # noqa: E402
from bibtagger_gui.core.recognizer import Recognizer  # noqa: E402
from bibtagger_gui.core.store import Store  # noqa: E402
from tests.test_bench import _fixed_reader  # noqa: E402
from tests.test_gui_support import fixed_predictions, gui_env, make_window, select_photos, wait_idle, window_action  # noqa: E402,F401

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
OLD_MODELS = "det:old+read:old"


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def dump(store) -> dict:
    """Everything a batch may change, per photo: review mark, model version, every bib row (all columns),
    rejected numbers."""
    return {
        p.relpath: (p.reviewed, p.model_version, tuple(store.bibs(p.id)), frozenset(store.deleted_numbers(p.id)))
        for p in store.photos()
    }


def plates(folder, n: int) -> list[tuple[float, float, float, float]]:
    """n small JPEGs, each with one plain white plate (what the placeholder detector fires on); their boxes."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    boxes = []
    for k in range(n):
        img = np.full((240, 320, 3), 60, np.uint8)
        x, y = 30 + 50 * k, 60 + 30 * k
        cv2.rectangle(img, (x, y), (x + 70, y + 40), (255, 255, 255), -1)
        cv2.imwrite(str(folder / f"photo_{k:03d}.jpg"), img)
        boxes.append((float(x), float(y), float(x + 70), float(y + 40)))
    return boxes


@pytest.fixture
def shoot(make_window, tmp_path, monkeypatch, qtbot):
    """A window on 4 photos with predictions from older models: photo_000 101 (0.5) and 555 (0.95), photo_001
    102, photo_002 none, photo_003 103."""
    folder = tmp_path / "shoot"
    boxes = plates(folder, 4)
    original = Recognizer.recognize_path
    table = {
        "photo_000.jpg": [Bib("101", boxes[0], 0.5), Bib("555", (200.0, 150.0, 260.0, 190.0), 0.95)],
        "photo_001.jpg": [Bib("102", boxes[1], 0.6)],
        "photo_002.jpg": [],
        "photo_003.jpg": [Bib("103", boxes[3], 0.7)],
    }
    fixed_predictions(monkeypatch, table)
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    monkeypatch.setattr(Recognizer, "recognize_path", original)  # from now on the placeholder models read
    ids = {p.relpath: p.id for p in win.store.photos()}
    for rel, bibs in table.items():  # as read by older models (their version differs from the placeholders')
        win.store.set_model_bibs(ids[rel], bibs, OLD_MODELS)
    win.rebuild_queue()
    win.batch_controller.interactive = False
    return win, folder, ids


def row_of(win, pid):
    """The list's snapshot of a photo (what its row shows)."""
    return win.list_model.item(win.list_model.row_of(pid))


def undo_redo(qtbot, win, before: dict, after: dict) -> None:
    """One Ctrl+Z puts every photo back exactly; one Ctrl+Shift+Z gives the batch back exactly."""
    store = win.store
    depth = win.undo_stack.index()
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert dump(store) == before
    assert win.undo_stack.index() == depth - 1  # one step
    assert not win.isWindowModified()
    assert win.statusBar().currentMessage().startswith("Undid ")
    key(qtbot, Qt.Key.Key_Z, CTRL | SHIFT)
    assert dump(store) == after
    assert win.undo_stack.index() == depth and win.isWindowModified()


def test_mark_reviewed_on_three_photos_is_one_undo_step(qtbot, shoot):
    win, _, ids = shoot
    store = win.store
    three = [ids["photo_000.jpg"], ids["photo_001.jpg"], ids["photo_003.jpg"]]
    select_photos(win, three)
    win.actions_by_name["checkpoint"].trigger()
    before, depth = dump(store), win.undo_stack.count()

    window_action(win, "batch_mark_reviewed").trigger()

    after = dump(store)
    for pid in three:  # accepted as Enter accepts one: reviewed, every bib confirmed
        assert store.photo(pid).reviewed and {b.source for b in store.bibs(pid)} == {"human"}
        assert row_of(win, pid).photo.reviewed  # the list shows it
    assert after["photo_002.jpg"] == before["photo_002.jpg"]  # not selected: untouched
    assert win.undo_stack.count() == depth + 1  # ONE step for three photos
    assert "Marked 3 photo(s) reviewed" in win.statusBar().currentMessage()
    undo_redo(qtbot, win, before, after)
    assert all(row_of(win, pid).photo.reviewed for pid in three)
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert not any(row_of(win, pid).photo.reviewed for pid in three)  # the list follows the undo
    assert sorted(p.id for p in win.selected_photos()) == sorted(three)  # and shows which photos it was


def test_mark_unreviewed_takes_back_accepts_the_undo_stack_no_longer_holds(qtbot, shoot):
    """An accept by mistake could only be taken back by undo; once the stack no longer held it (a reopened
    folder, 2,000 later steps) the photo stayed reviewed for good."""
    win, folder, ids = shoot
    three = [ids["photo_000.jpg"], ids["photo_001.jpg"], ids["photo_003.jpg"]]
    for pid in three:
        win.select_photo(pid)
        win.accept_photo()
    assert win.open_folder(folder)  # the undo stack is emptied
    wait_idle(qtbot, win)
    win.batch_controller.interactive = False
    assert win.undo_stack.count() == 0
    select_photos(win, three)
    before = dump(win.store)

    window_action(win, "batch_mark_unreviewed").trigger()

    after = dump(win.store)
    for pid in three:
        assert not win.store.photo(pid).reviewed and not row_of(win, pid).photo.reviewed
        assert {b.source for b in win.store.bibs(pid)} == {"human"}  # the bibs stay as they are
    assert win.undo_stack.count() == 1
    undo_redo(qtbot, win, before, after)


def test_delete_predictions_keeps_human_bibs_and_rejects_the_readings(qtbot, shoot):
    win, _, ids = shoot
    store = win.store
    p0 = ids["photo_000.jpg"]
    row101 = next(b for b in store.bibs(p0) if b.number == "101")
    store.update_bib(row101.id, number="108")  # a correction: human
    win.rebuild_queue()
    three = [p0, ids["photo_001.jpg"], ids["photo_003.jpg"]]
    select_photos(win, three)
    before = dump(store)

    window_action(win, "batch_delete_predictions").trigger()

    after = dump(store)
    assert [(b.number, b.source) for b in store.bibs(p0)] == [("108", "human")]  # the human bib survives
    assert store.bibs(ids["photo_001.jpg"]) == [] and store.bibs(ids["photo_003.jpg"]) == []
    assert [b.number for b in row_of(win, p0).bibs] == ["108"]  # the list shows it
    # rejected as the Delete key rejects: a re-run does not bring them back; the photo is not recognized anew
    assert store.deleted_numbers(p0) == {"555"} and store.deleted_numbers(ids["photo_001.jpg"]) == {"102"}
    assert store.photo(p0).model_version == OLD_MODELS
    assert win.undo_stack.count() == 1
    assert "Deleted the predictions of 3 photo(s)" in win.statusBar().currentMessage()
    undo_redo(qtbot, win, before, after)


@pytest.fixture
def models_reading_12(placeholder_models_dir, tmp_path):
    """The placeholder detector (conftest) with a reader that reads "12" on every plate it finds."""
    import shutil

    folder = tmp_path / "models-12"
    folder.mkdir()
    shutil.copy(placeholder_models_dir / "detector.onnx", folder / "detector.onnx")
    _fixed_reader(folder / "reader.onnx")
    return folder


def test_rerun_on_selected_photos_with_the_placeholder_models(qtbot, shoot, models_reading_12):
    """The placeholder models read the selected unreviewed photos again: their predictions are replaced by
    exactly what the models read, less a reading that repeats a human bib; human bibs stay, a reviewed photo is
    left alone; all of it is one undo step back to the older models' predictions and version."""
    win, folder, ids = shoot
    store = win.store
    assert win.load_models_dir(models_reading_12, remember=False)
    p0, p1, p2, p3 = (ids[f"photo_00{i}.jpg"] for i in range(4))
    store.add_bib(p0, "777", None)  # a human bib without a box
    store.update_bib(store.bibs(p1)[0].id, number="12")  # 102 corrected to 12: the re-run's 12 repeats it
    win.select_photo(p3)
    win.accept_photo()  # reviewed: a re-run never touches it
    win.rebuild_queue()
    select_photos(win, [p0, p1, p2, p3])
    win.actions_by_name["checkpoint"].trigger()
    before, depth = dump(store), win.undo_stack.count()
    rec = Recognizer.from_dir(models_reading_12)
    expected = {pid: store.model_bibs_to_keep(pid, rec.recognize_path(folder / store.photo(pid).relpath))
                for pid in (p0, p1, p2)}  # fmt: skip
    assert sum(map(len, expected.values())) > 0  # the models read something: the re-run is seen

    window_action(win, "rerun_selected").trigger()  # Recognition > Re-run on Selected Photos
    qtbot.waitUntil(lambda: not win.batch_controller.pending, timeout=20000)

    after = dump(store)
    for pid in (p0, p1, p2):
        got = [b.to_bib() for b in store.bibs(pid) if b.source == "model"]
        assert got == expected[pid]
        assert store.photo(pid).model_version == rec.version != OLD_MODELS
        assert row_of(win, pid).bibs == tuple(store.bibs(pid))  # the list shows the new readings
    numbers = {pid: sorted((b.number, b.source) for b in store.bibs(pid)) for pid in (p0, p1, p2)}
    assert numbers == {p0: [("12", "model"), ("777", "human")], p1: [("12", "human")], p2: [("12", "model")]}
    assert after["photo_003.jpg"] == before["photo_003.jpg"]  # reviewed: left alone, and said so
    message = win.statusBar().currentMessage()
    assert "Re-ran recognition on 3 photo(s)" in message and "1 reviewed" in message
    assert win.undo_stack.count() == depth + 1
    undo_redo(qtbot, win, before, after)


def test_a_batch_that_fails_part_way_changes_no_photo(qtbot, shoot, monkeypatch):
    """One transaction: the disk failing at the third photo leaves the first two as they were, and nothing
    reaches the undo stack."""
    win, _, ids = shoot
    store = win.store
    three = [ids["photo_000.jpg"], ids["photo_001.jpg"], ids["photo_003.jpg"]]
    select_photos(win, three)
    before, depth = dump(store), win.undo_stack.count()
    real = store.delete_bib

    def failing(bib_id, reject=True):
        if store.bib(bib_id).photo_id == three[2]:
            raise sqlite3.OperationalError("disk I/O error")
        return real(bib_id, reject=reject)

    monkeypatch.setattr(store, "delete_bib", failing)
    window_action(win, "batch_delete_predictions").trigger()

    assert dump(store) == before
    assert win.undo_stack.count() == depth
    assert "Not saved" in win.statusBar().currentMessage()


def test_undo_over_a_photo_changed_meanwhile_writes_nothing(qtbot, shoot):
    win, folder, ids = shoot
    three = [ids["photo_000.jpg"], ids["photo_001.jpg"], ids["photo_003.jpg"]]
    select_photos(win, three)
    window_action(win, "batch_mark_reviewed").trigger()
    after = dump(win.store)
    with Store.open(folder) as other:  # another program un-reviews one of them
        other.set_reviewed(three[1], False)
    changed = dump(win.store)
    assert changed != after
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Z, CTRL)
    assert dump(win.store) == changed  # the other two stay reviewed: all or nothing
    assert "Not saved" in win.statusBar().currentMessage() and win.undo_stack.count() == 0


def test_a_large_selection_is_confirmed_first(qtbot, shoot, monkeypatch):
    from bibtagger_gui.gui import batch_action

    win, _, ids = shoot
    monkeypatch.setattr(batch_action, "CONFIRM_AT", 3)
    controller = win.batch_controller
    select_photos(win, list(ids.values()))
    before = dump(win.store)
    controller.answer = False
    assert not controller.trigger(batch_action.BatchAction.MARK_REVIEWED)
    assert controller.asked == ["Mark Reviewed on 4 photos?"]
    assert dump(win.store) == before and win.undo_stack.count() == 0
    assert "cancelled" in win.statusBar().currentMessage()
    controller.answer = True
    select_photos(win, [ids["photo_000.jpg"], ids["photo_001.jpg"]])  # below the threshold: no question
    assert controller.trigger(batch_action.BatchAction.MARK_REVIEWED)
    assert len(controller.asked) == 1 and win.undo_stack.count() == 1


def test_an_action_with_nothing_to_do_says_why(qtbot, shoot):
    win, _, ids = shoot
    select_photos(win, [ids["photo_000.jpg"], ids["photo_002.jpg"]])
    window_action(win, "batch_mark_unreviewed").trigger()
    assert win.undo_stack.count() == 0
    assert win.statusBar().currentMessage() == (
        "Mark Unreviewed: nothing to do for the 2 selected photo(s) (2 left alone: 2 not reviewed)")


def test_keyboard_only_context_menu_of_the_list(qtbot, shoot):
    """Ctrl+L, Shift+Down twice selects three photos; the Menu key opens the list's context menu with the batch
    actions; R (Mark &Reviewed) marks the three reviewed, as one undo step."""
    win, _, _ = shoot
    win.select_row(0)
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_L, CTRL)
    key(qtbot, Qt.Key.Key_Down, SHIFT)
    key(qtbot, Qt.Key.Key_Down, SHIFT)
    chosen = [p.id for p in win.selected_photos()]
    assert len(chosen) == 3 and QApplication.focusWidget() is win.list_view
    # what the Menu key (or Shift+F10) sends to the focused widget
    pos = QPoint(5, 5)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, pos, win.list_view.mapToGlobal(pos))
    QApplication.sendEvent(win.list_view, event)
    menu = win.batch_controller.context_menu
    assert menu is not None
    qtbot.waitUntil(menu.isVisible, timeout=3000)
    # each entry says how many of the selected photos it changes (none is reviewed; not all hold a prediction)
    predicted = sum(any(b.source == "model" for b in win.store.bibs(pid)) for pid in chosen)
    assert 0 < predicted < 3
    assert [a.text() for a in menu.actions()] == [
        "Mark &Reviewed (3 Selected Photos)", "Mark &Unreviewed (0 of 3 Selected Photos)",
        "Re-run Re&cognition (3 Selected Photos)", f"&Delete Predictions (Keep My Bibs) ({predicted} of 3 Selected Photos)"]
    qtbot.keyClick(menu, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: not menu.isVisible(), timeout=3000)
    assert all(win.store.photo(pid).reviewed for pid in chosen)
    assert win.undo_stack.count() == 1
    win.edit_menu.aboutToShow.emit()
    assert win.batch_controller.submenu.title() == "&Selected Photos (3)"


def test_a_number_typed_on_the_photo_shown_is_saved_before_a_batch(qtbot, shoot):
    """A batch started from the menu while a number is typed used to leave the number in the field, out of
    the batch (Mark Reviewed confirmed the photo without it); it is committed first, its own undo step."""
    win, _, ids = shoot
    three = [ids["photo_000.jpg"], ids["photo_001.jpg"], ids["photo_003.jpg"]]
    select_photos(win, three)
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_7)
    key(qtbot, Qt.Key.Key_7)
    assert win.number_edit.text() == "77"
    depth = win.undo_stack.count()
    window_action(win, "batch_mark_reviewed").trigger()
    shown = win.store.photo(ids["photo_000.jpg"])
    assert shown.reviewed and ("77", "human") in [(b.number, b.source) for b in win.store.bibs(shown.id)]
    assert win.undo_stack.count() == depth + 2  # the typed number, then the batch
    assert win._entry is None  # no entry left open over the batch


def test_a_rerun_started_while_recognition_is_paused_ends_the_pause_and_says_so(qtbot, shoot):
    """A re-run the user starts is not paused (it used to start paused, waiting for a Resume): the pause ends."""
    win, _, ids = shoot
    select_photos(win, [ids["photo_000.jpg"], ids["photo_001.jpg"]])
    win.actions_by_name["pause_recognition"].trigger()
    assert win.recognition_paused
    window_action(win, "rerun_selected").trigger()
    message = win.statusBar().currentMessage()
    assert message.startswith("Re-running recognition on 2 photo(s)") and "was paused: resumed for it" in message
    assert not win.recognition_paused and not any(j.paused for j in win.jobs)
    assert win.actions_by_name["pause_recognition"].text().replace("&", "") == "Pause Recognition"
    wait_idle(qtbot, win)
    assert win.last_job_outcome[:2] == ("recognize", "done")


def test_a_rerun_that_ends_before_start_job_returns_is_still_written(qtbot, shoot, models_reading_12, monkeypatch):
    """The controller connected its handler of the job's end after ``start_job`` had queued the job: a job quicker
    than that (one photo, a fast read) ended unheard, its results never written and its plan pending for good."""
    import time

    win, _, ids = shoot
    assert win.load_models_dir(models_reading_12, remember=False)
    p2 = ids["photo_002.jpg"]  # no prediction: the re-run's 12 is new
    real = win.job_pool.submit

    def submit_and_finish(fn):  # the worker thread is done before the GUI thread goes on (no event is handled)
        task = real(fn)
        deadline = time.monotonic() + 20
        while not task.done and time.monotonic() < deadline:
            time.sleep(0.005)
        assert task.done
        return task

    monkeypatch.setattr(win.job_pool, "submit", submit_and_finish)
    select_photos(win, [p2])
    window_action(win, "rerun_selected").trigger()
    qtbot.waitUntil(lambda: not win.batch_controller.pending and not win.busy, timeout=5000)
    assert [(b.number, b.source) for b in win.store.bibs(p2)] == [("12", "model")]
    assert win.undo_stack.count() == 1 and "Re-ran recognition on 1 photo(s)" in win.statusBar().currentMessage()


def test_a_batch_action_while_a_drawn_box_waits_for_its_number_leaves_it_waiting(qtbot, shoot):
    """A batch action on the selected photos first saves a number being typed; with a drawn box waiting for its number
    (none typed) that ended the entry: the box went without a word. It stays waiting; its number typed after adds it."""
    win, folder, ids = shoot
    select_photos(win, [ids["photo_000.jpg"], ids["photo_001.jpg"]])
    win.photo_view.setFocus()
    for k in (Qt.Key.Key_B, Qt.Key.Key_Right, Qt.Key.Key_Return):  # a box drawn with the keys, taken
        key(qtbot, k)
    assert win.drawn_box_waits()
    window_action(win, "batch_mark_reviewed").trigger()
    assert win.store.photo(ids["photo_000.jpg"]).reviewed and win.store.photo(ids["photo_001.jpg"]).reviewed
    assert win.drawn_box_waits()
    window_action(win, "batch_delete_predictions").trigger()
    assert win.drawn_box_waits()
    win.number_edit.setFocus()
    for d in "88":
        key(qtbot, Qt.Key(ord(d)))
    key(qtbot, Qt.Key.Key_Return)
    assert any(b.number == "88" and b.box is not None for b in win.store.bibs(ids["photo_000.jpg"]))
